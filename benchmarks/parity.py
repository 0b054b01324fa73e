"""Time `shipyard parity` over dev, staging and prod with 10, 50 and 200 services each.

Prints, per size: the wall time of the whole command as a fresh process (render included), the
comparison step alone (normalise + flatten + classify, in-process on already rendered stacks),
and deepdiff with ignore_order=True over the raw resource lists of the same stacks, with the
ratio between the two. Targets (issue 3): 3 x 10 services end to end under 4 s on 2 cores;
comparison time growing linearly with resources.
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
from parity.normalise import flatten_stack  # noqa: E402
from parity.policy import load_policy  # noqa: E402
from parity.render import render_stack  # noqa: E402
from shipyard.config.load import StackSources  # noqa: E402

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
        "--deepdiff-max", type=int, default=50, help="skip deepdiff above this size"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smallest size, one run: proves the benchmark still works (tests run this)",
    )
    args = parser.parse_args()
    if args.quick:
        args.sizes = [1]
    print(
        f"{'services/env':>12} {'resources':>9} {'paths':>7} {'wall s':>7} {'compare s':>9} "
        f"{'us/path':>7} {'deepdiff s':>10} {'ratio':>6}"
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
            policy = load_policy(sources.stacks_dir / "parity.yaml", "parity.yaml")
            # As in the CLI: what rendering left alive is not re-scanned by the collector.
            gc.collect()
            gc.freeze()
            began = time.perf_counter()
            flat = {env: flatten_stack(stacks[env], ENVS) for env in ENVS}
            result = compare(flat, policy, dt.date.today())
            compare_s = time.perf_counter() - began
            resources = sum(len(s.resources) for s in stacks.values())
            paths = result.overall.total
            deep = "-"
            ratio = "-"
            if size <= args.deepdiff_max:
                from deepdiff import DeepDiff

                began = time.perf_counter()
                for left, right in (("dev", "staging"), ("dev", "prod"), ("staging", "prod")):
                    DeepDiff(stacks[left].resources, stacks[right].resources, ignore_order=True)
                deep_s = time.perf_counter() - began
                deep, ratio = f"{deep_s:.2f}", f"{deep_s / compare_s:.0f}x"
            print(
                f"{size:>12} {resources:>9} {paths:>7} {wall:>7.2f} {compare_s:>9.3f} "
                f"{1e6 * compare_s / paths:>7.1f} {deep:>10} {ratio:>6}"
            )


if __name__ == "__main__":
    main()
