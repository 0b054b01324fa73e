"""Time `shipyard parity` over dev, staging and prod with 10, 50 and 200 services each.

Prints, per size: the wall time of the whole command as a fresh process (render included); the
normalising step alone (own-name tokens, roles, keyed lists, leaves) and the comparison alone
(deepdiff over each pair, classification, settings), both in-process on already rendered
stacks; the settings and differing paths compared. Targets: 3 x 10 services end to end within
4 s on 2 cores (issues 3 and 13); comparison time growing about linearly with resources.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# This file is named like the `parity` package: take its folder off the path before importing.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

from parity.compare import compare  # noqa: E402
from parity.normalise import normalise_stack  # noqa: E402
from parity.policy import load_policy  # noqa: E402
from parity.render import render_stack  # noqa: E402
from shipyard.config.load import StackSources, load_stack  # noqa: E402

_spec = importlib.util.spec_from_file_location("bench_render", HERE / "render.py")
assert _spec is not None and _spec.loader is not None
_bench_render = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_bench_render)
SHIPYARD, make_project = _bench_render.SHIPYARD, _bench_render.make_project

ENVS = ["dev", "staging", "prod"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 50, 200])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smallest size, one run: proves the benchmark still works (tests run this)",
    )
    args = parser.parse_args()
    if args.quick:
        args.sizes = [1]
    print(
        f"{'services/env':>12} {'resources':>9} {'settings':>8} {'diffs':>6} {'wall s':>7} "
        f"{'normalise s':>11} {'compare s':>9} {'us/resource':>11}"
    )
    with tempfile.TemporaryDirectory(prefix="shipyard-bench-") as tmp:
        for size in args.sizes:
            project = make_project(Path(tmp), size)
            started = time.perf_counter()
            done = subprocess.run(
                [*SHIPYARD, "--project-dir", str(project), "parity", "--format", "json"],
                capture_output=True,
                text=True,
                check=False,
            )
            wall = time.perf_counter() - started
            if done.returncode not in (0, 1):
                sys.exit(f"benchmark: shipyard parity failed:\n{done.stderr}")
            sources = StackSources(project)
            stacks = {env: render_stack(sources, env) for env in ENVS}
            loaded = {env: load_stack(sources, env) for env in ENVS}
            policy = load_policy(sources.stacks_dir / "parity.yaml", "parity.yaml")
            # As in the CLI: what rendering left alive is not re-scanned by the collector.
            gc.collect()
            gc.freeze()
            began = time.perf_counter()
            normalised = {env: normalise_stack(stacks[env], ENVS, loaded[env]) for env in ENVS}
            normalise_s = time.perf_counter() - began
            began = time.perf_counter()
            result = compare(normalised, policy, dt.date.today())
            compare_s = time.perf_counter() - began
            resources = sum(len(s.resources) for s in stacks.values())
            print(
                f"{size:>12} {resources:>9} {result.overall.total:>8} "
                f"{len(result.differences):>6} {wall:>7.2f} {normalise_s:>11.3f} "
                f"{compare_s:>9.3f} {1e6 * compare_s / resources:>11.0f}"
            )


if __name__ == "__main__":
    main()
