"""Render all three stacks with 1, 10 and 50 services per environment; print the figures.

For each size: a throwaway copy of the project whose template holds N services, its stack files
written by `shipyard stacks render`, then `shipyard demo --no-local --format json` (render every
stack under Pulumi's mocks and summarise it; nothing started) run as a fresh process (so the wall
time includes interpreter start and imports). Per-resource cost is the in-process
render time divided by the resources rendered.

Targets (docs/architecture, issue 2): 3 stacks x 10 services in under 3 s wall including
interpreter start; per-resource cost from 10 to 50 services within 1.5x.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
SHIPYARD = [sys.executable, "-m", "shipyard.cli.main"]


def make_project(root: Path, services: int) -> Path:
    """A copy of the project whose template declares `services` copies of its first service."""
    project = root / f"project-{services}"
    shutil.copytree(REPO / "stacks", project / "stacks")
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(REPO / name, project / name)
    template = project / "stacks" / "template.yaml.j2"
    doc = yaml.safe_load(template.read_text().replace("{{ env }}", "ENV"))
    first = doc["services"][0]
    doc["services"] = [
        {**first, "name": f"svc{index:02d}", "testPort": 9000 + index} for index in range(services)
    ]
    template.write_text(yaml.safe_dump(doc, sort_keys=False).replace("ENV", "{{ env }}"))
    for env in ("dev", "staging", "prod"):
        overlay = project / "stacks" / f"{env}.yaml"
        data = yaml.safe_load(overlay.read_text())
        data.pop("services", None)
        overlay.write_text(yaml.safe_dump(data, sort_keys=False))
    run([*SHIPYARD, "--project-dir", str(project), "stacks", "render"])
    return project


def run(command: list[str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"benchmark: {' '.join(command)} failed:\n{done.stderr}")
    return done.stdout


def measure(project: Path) -> dict[str, Any]:
    started = time.perf_counter()
    report = json.loads(
        run([*SHIPYARD, "--project-dir", str(project), "demo", "--no-local", "--format", "json"])
    )
    wall = time.perf_counter() - started
    resources = sum(env["resources"] for env in report["environments"])
    return {
        "wall_s": wall,
        # Largest resident set of any child so far: sizes run in increasing order.
        "peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "render_s": report["seconds"],
        "resources": resources,
        "ms_per_resource": 1000 * report["seconds"] / resources,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--repeat", type=int, default=3, help="runs per size; the median counts")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smallest size, one run: proves the benchmark still works (tests run this)",
    )
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.repeat = [1], 1
    print(
        f"{'services/env':>12} {'resources':>9} {'wall s':>8} {'render s':>9} "
        f"{'ms/resource':>11} {'peak MB':>8}"
    )
    results = {}
    with tempfile.TemporaryDirectory(prefix="shipyard-bench-") as tmp:
        for size in args.sizes:
            project = make_project(Path(tmp), size)
            runs = [measure(project) for _ in range(args.repeat)]
            median = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
            results[size] = median
            print(
                f"{size:>12} {int(median['resources']):>9} {median['wall_s']:>8.2f} "
                f"{median['render_s']:>9.2f} {median['ms_per_resource']:>11.2f} "
                f"{median['peak_mb']:>8.0f}"
            )
    if 10 in results:
        verdict = "meets" if results[10]["wall_s"] < 3 else "misses"
        print(f"3 stacks x 10 services: {results[10]['wall_s']:.2f} s wall ({verdict} < 3 s)")
    if 10 in results and 50 in results:
        ratio = results[50]["ms_per_resource"] / results[10]["ms_per_resource"]
        verdict = "meets" if ratio <= 1.5 else "misses"
        print(f"per-resource cost 50 vs 10 services: {ratio:.2f}x ({verdict} <= 1.5x)")


if __name__ == "__main__":
    main()
