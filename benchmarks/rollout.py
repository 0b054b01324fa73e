"""Rollout figures on the local platform, beside the process shipyard replaces.

- Full deploy (bake 0, steps 10/50/100, two processes per color) under load: seconds, and
  failed requests (target: under 5 s, 0 failed).
- Instant rollback: from the command's start until every answer comes from the old version
  (target under 1 s), and failed requests during it (target 0).
- "Before": one app process on its port, stopped and started again in place with the new
  version (what "SSH in, pull, restart" does), under the same load: seconds until the new
  version answers, and failed requests.
Load: 2 threads on 127.0.0.1, bounded in requests and time.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

from rollout.deploy import DeployOptions, deploy  # noqa: E402
from rollout.ledger import SqliteLedger  # noqa: E402
from rollout.load import Load  # noqa: E402
from rollout.platforms.local.platform import local_down, local_up  # noqa: E402
from rollout.platforms.local.processes import free_port, spawn, started_at, stop  # noqa: E402
from rollout.rollback import instant_rollback  # noqa: E402
from shipyard.config.load import StackSources  # noqa: E402
from shipyard.stacks import plan_stack_files, write_stack_files  # noqa: E402

_spec = importlib.util.spec_from_file_location("bench_local", HERE / "local.py")
assert _spec is not None and _spec.loader is not None
_bench_local = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_bench_local)


def with_fast_policy(project: Path) -> StackSources:
    sources = StackSources(project)
    overlay = sources.overlay("dev")
    doc = yaml.safe_load(overlay.read_text())
    doc["deploy"] = {
        "trafficSteps": [10, 50, 100],
        "bakeSeconds": 0,
        "scaleDownDelaySeconds": 300,
        "analysis": {"minRequests": 0},
    }
    overlay.write_text(yaml.safe_dump(doc))
    write_stack_files(sources, plan_stack_files(sources))
    return sources


def shipyard_figures(sources: StackSources, repeat: int) -> tuple[float, int, float, int]:
    state = local_up(sources, "dev").state
    ledger = SqliteLedger(sources.root / ".shipyard" / "ledger.db")
    web = state.service("web")
    deploys, rollbacks, deploy_failed, rollback_failed = [], [], 0, 0
    try:
        with Load(f"{web.url}/version", threads=2, max_seconds=300) as load:
            load.wait_for(100)
            for index in range(repeat):
                version = f"v{index + 10}"
                began = time.monotonic()
                outcome = deploy(sources, DeployOptions("dev", version, "web"), ledger)
                ended = time.monotonic()
                assert outcome.succeeded, outcome.message
                deploys.append(ended - began)
                deploy_failed += len(
                    [s for s in load.between(began, ended) if s.status is None or s.status >= 500]
                )
                load.wait_for(len(load.samples) + 100)
                previous = load.between(began - 1, began)[-1].version
                began = time.monotonic()
                back = instant_rollback(sources, "dev", "web", ledger)
                assert back.succeeded, back.message
                # Until every answer comes from the old version again.
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    recent = load.between(time.monotonic() - 0.02, time.monotonic())
                    if recent and all(s.version == previous for s in recent):
                        break
                    time.sleep(0.005)
                ended = time.monotonic()
                rollbacks.append(ended - began)
                rollback_failed += len(
                    [s for s in load.between(began, ended) if s.status is None or s.status >= 500]
                )
    finally:
        local_down(sources, "dev")
    return statistics.median(deploys), deploy_failed, statistics.median(rollbacks), rollback_failed


def restart_in_place(root: Path, repeat: int) -> tuple[float, int]:
    server = root / "examples" / "app" / "server.py"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("APP_")}
    times, failed = [], 0

    def start(version: str) -> tuple[int, int | None]:
        pid = spawn(
            [sys.executable, str(server), "--port", str(port), "--version", version],
            env,
            root / "restart.log",
        )
        return pid, started_at(pid)

    current = start("v1")
    time.sleep(0.5)
    with Load(f"http://127.0.0.1:{port}/version", threads=2, max_seconds=120) as load:
        load.wait_for(100)
        for index in range(repeat):
            version = f"v{index + 2}"
            began = time.monotonic()
            stop(*current)
            current = start(version)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not any(
                s.version == version for s in load.between(began, time.monotonic())
            ):
                time.sleep(0.005)
            ended = time.monotonic()
            times.append(ended - began)
            failed += len([s for s in load.between(began, ended) if s.status is None])
            load.wait_for(len(load.samples) + 100)
    stop(*current)
    return statistics.median(times), failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs; the median counts")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smallest size, one run: proves the benchmark still works (tests run this)",
    )
    args = parser.parse_args()
    repeat = 1 if args.quick else args.repeat
    with tempfile.TemporaryDirectory(prefix="shipyard-bench-") as tmp:
        project = _bench_local.make_project(Path(tmp))
        sources = with_fast_policy(project)
        deploy_s, deploy_failed, rollback_s, rollback_failed = shipyard_figures(sources, repeat)
        restart_s, restart_failed = restart_in_place(project, repeat)
    print(
        f"shipyard deploy (bake 0, 10/50/100, 2 processes per color), median of {repeat}: "
        f"{deploy_s:.2f} s ({'meets' if deploy_s < 5 else 'misses'} < 5 s); failed requests "
        f"during {repeat} deploys: {deploy_failed}"
    )
    print(
        f"shipyard instant rollback until all answers are the old version: "
        f"{1000 * rollback_s:.0f} ms ({'meets' if rollback_s < 1 else 'misses'} < 1 s); "
        f"failed requests during {repeat} rollbacks: {rollback_failed}"
    )
    print(
        f"before (stop the process, start the new one in place), median of {repeat}: "
        f"{restart_s:.2f} s until the new version answers; failed requests: {restart_failed}"
    )


if __name__ == "__main__":
    main()
