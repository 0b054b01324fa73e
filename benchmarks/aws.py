"""AWS platform figures against moto server on 127.0.0.1 (no AWS account involved).

- AWS API calls per deploy (bake 0, steps 10/50/100), per instant rollback and per redeploy
  rollback (`rollback --to`), counted by IAM action as shipyard's clients make them.
- Seconds from the start of `rollback` until the production listener's weights are set and
  read back (verified), and until the rollback command returns.

The stack is "applied" by the tests' seeder; the sample service on loopback plays the ALB's
test listener for smoke tests. moto answers in about a millisecond: the figures measure
shipyard's own work and call count, not AWS's latency (about 50-150 ms per ELBv2 call).

On the AWS harness (aws_harness: moto server, HAProxy as the ALB, ECS tasks as processes, and
CloudWatch fed from the traffic), `shipyard deploy|rollback --platform aws` as subprocesses,
under 2 threads of load on a production listener, as benchmarks/rollout.py measures locally:
- failed requests during deploys (10/50/100, 1 s bakes, analysis) and instant rollbacks;
- seconds from the start of `rollback` to the last request the new version served;
- for a release answering 30% 5xx (web v3): seconds from the first 5xx the load saw to the last
  request v3 served (all traffic back on the stable color).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(REPO))  # the tests' seeder

import logging  # noqa: E402
import subprocess  # noqa: E402

import yaml  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402

from aws_harness.fixture import AwsWorld  # noqa: E402
from aws_harness.seed import apply_stack, clients_for, stack_outputs  # noqa: E402
from parity.render import render_stack  # noqa: E402
from rollout.deploy import DeployOptions, deploy  # noqa: E402
from rollout.ledger import SqliteLedger  # noqa: E402
from rollout.load import Load  # noqa: E402
from rollout.platforms.aws.outputs import StackOutputs  # noqa: E402
from rollout.platforms.aws.target import AwsPlatform  # noqa: E402
from rollout.platforms.local.processes import stop  # noqa: E402
from rollout.rollback import instant_rollback, rollback  # noqa: E402
from shipyard import aws as shipyard_aws  # noqa: E402
from shipyard.config.load import StackSources  # noqa: E402
from shipyard.stacks import plan_stack_files, write_stack_files  # noqa: E402
from tests.sample_app import start_sample  # noqa: E402

FAST = """deploy:
  trafficSteps: [10, 50, 100]
  bakeSeconds: 0
  scaleDownDelaySeconds: 300
  analysis:
    minRequests: 0
"""


def make_project(root: Path) -> StackSources:
    project = root / "project"
    shutil.copytree(REPO / "stacks", project / "stacks")
    shutil.copytree(REPO / "examples", project / "examples")
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(REPO / name, project / name)
    overlay = project / "stacks" / "dev.yaml"
    text = overlay.read_text(encoding="utf-8")
    overlay.write_text(text[: text.index("deploy:")] + FAST, encoding="utf-8")
    sources = StackSources(project)
    write_stack_files(sources, plan_stack_files(sources))
    return sources


HARNESS_POLICY = {
    "trafficSteps": [10, 50, 100],
    "bakeSeconds": 1,
    "readyTimeoutSeconds": 40,  # >= healthyThreshold x interval + timeout of the template's check
    "scaleDownDelaySeconds": 300,
    "analysis": {"minRequests": 20, "max5xxRate": 0.05, "onInconclusive": "fail"},
}
SHIPYARD = str(Path(sys.executable).parent / "shipyard")


def harness_project(root: Path) -> StackSources:
    sources = make_project(root)
    overlay = sources.overlay("dev")
    doc = yaml.safe_load(overlay.read_text())
    doc["deploy"] = HARNESS_POLICY
    for service in doc["services"]:
        service["environment"] = {**service.get("environment", {}), "APP_ERROR_RATE": "0.3@v3"}
    overlay.write_text(yaml.safe_dump(doc))
    write_stack_files(sources, plan_stack_files(sources))
    return sources


def weights_set(ledger: SqliteLedger, since: dt.datetime) -> dt.datetime:
    """When the production listener's weights were set (and read back) after `since`."""
    return next(
        dt.datetime.fromisoformat(e.at)
        for e in ledger.events("dev")
        if e.kind == "weights-set"
        and e.data["router"] == "production"
        and dt.datetime.fromisoformat(e.at) >= since
    )


def failures(samples: list[Any]) -> int:
    return sum(1 for s in samples if s.status is None or s.status >= 500)


def harness_figures(sources: StackSources, repeat: int) -> dict[str, Any]:
    """api: deploy then instant rollback, `repeat` times; web: the faulty v3 (a target group
    without earlier traffic, so the analysis's minute holds v3's requests only)."""
    with AwsWorld.start(sources.root) as world:

        def cli(*args: str) -> subprocess.CompletedProcess[str]:
            argv = [SHIPYARD, "--project-dir", str(sources.root), args[0], "dev"]
            argv += [*world.platform_args, *args[1:]]
            return subprocess.run(
                argv, env=world.environ(), capture_output=True, text=True, timeout=300, check=False
            )

        ledger = SqliteLedger(sources.root / ".shipyard" / "ledger.db")
        figures: dict[str, Any] = {"deploys": [], "rollbacks": [], "weights_set": []}
        figures["started"] = []
        figures["deploy_failed"] = 0
        figures["rollback_failed"] = 0
        with Load(f"{world.url('api')}/version", threads=2, max_seconds=600) as load:
            load.wait_for(100)
            for index in range(repeat):
                version = f"v{index + 10}"
                began = time.monotonic()
                done = cli("deploy", "--service", "api", "--version", version)
                ended = time.monotonic()
                assert done.returncode == 0, done.stdout + done.stderr
                figures["deploys"].append(ended - began)
                figures["deploy_failed"] += failures(load.between(began, ended))
                load.wait_for(len(load.samples) + 100)
                began, since = time.monotonic(), dt.datetime.now(dt.UTC)
                done = cli("rollback", "--service", "api")
                assert done.returncode == 0, done.stdout + done.stderr
                load.wait_for(len(load.samples) + 100)
                window = load.between(began, time.monotonic())
                new = [s for s in window if s.version == version]
                figures["rollbacks"].append((new[-1].at if new else began) - began)
                figures["weights_set"].append((weights_set(ledger, since) - since).total_seconds())
                first = min(
                    at
                    for e in ledger.events("dev")
                    if (at := dt.datetime.fromisoformat(e.at)) >= since
                )
                figures["started"].append((first - since).total_seconds())
                figures["rollback_failed"] += failures(window)
        with Load(f"{world.url('web')}/version", threads=2, max_seconds=300) as load:
            load.wait_for(100)
            began = time.monotonic()
            done = cli("deploy", "--service", "web", "--version", "v3")
            load.wait_for(len(load.samples) + 100)
            window = load.between(began, time.monotonic())
        bad = [s for s in window if s.version == "v3"]
        errors = [s for s in bad if s.status is not None and s.status >= 500]
        figures["bad_exit"] = done.returncode
        figures["bad_message"] = (done.stderr.strip().splitlines() or [""])[-1]
        figures["bad_errors"] = len(errors)
        figures["bad_others_failed"] = failures([s for s in window if s.version != "v3"])
        figures["bad_off"] = bad[-1].at - errors[0].at if errors else None
    return figures


def print_harness(figures: dict[str, Any], repeat: int) -> None:
    print(
        f"harness deploy of api (10/50/100, 1 s bakes, analysis) under load, median of "
        f"{repeat}: {statistics.median(figures['deploys']):.2f} s; failed requests during "
        f"{repeat} deploys: {figures['deploy_failed']}"
    )
    print(
        f"harness instant rollback, from `rollback` starting to the last request the new "
        f"version served: {1000 * statistics.median(figures['rollbacks']):.0f} ms median of "
        f"{repeat}; per the ledger, the command's first event came after "
        f"{1000 * statistics.median(figures['started']):.0f} ms (the CLI's start-up) and the "
        f"production weights were set after "
        f"{1000 * statistics.median(figures['weights_set']):.0f} ms; "
        f"failed requests during {repeat} rollbacks: {figures['rollback_failed']}"
    )
    off = figures["bad_off"]
    print(
        f"harness faulty release (web v3, 30% 5xx): exit {figures['bad_exit']} "
        f"({figures['bad_message']}); all traffic on the stable color "
        + (f"{off:.2f} s" if off is not None else "(no 5xx seen)")
        + f" after the first 5xx; {figures['bad_errors']} 5xx from v3, "
        f"{figures['bad_others_failed']} failed requests elsewhere"
    )


def calls() -> tuple[int, dict[str, int]]:
    counted = dict(shipyard_aws.CALLS)
    shipyard_aws.CALLS.clear()
    return sum(counted.values()), counted


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
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto server's access log
    os.environ["MOTO_ECS_SERVICE_RUNNING"] = "true"
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        with tempfile.TemporaryDirectory(prefix="shipyard-bench-aws-") as tmp:
            root = Path(tmp)
            sources = make_project(root)
            stack = render_stack(sources, "dev")
            seeded = apply_stack(stack, clients_for(endpoint))
            url, pid, when = start_sample(root, "v3")
            values = json.loads(json.dumps(stack_outputs(stack, seeded, {"web": url})))
            platform = AwsPlatform(
                sources,
                "dev",
                StackOutputs("dev", values, "bench"),
                shipyard_aws.Aws("us-east-1", endpoint, "dev"),
            )
            ledger = SqliteLedger(root / "ledger.db")
            deploy_calls, instant_calls, redeploy_calls = [], [], []
            to_verified, to_return, deploy_seconds = [], [], []
            by_action: dict[str, int] = {}
            try:
                for _ in range(repeat):
                    calls()
                    outcome = deploy(sources, DeployOptions("dev", "v3", "web"), ledger,
                                     platform=platform)  # fmt: skip
                    assert outcome.succeeded, outcome.message
                    deploy_seconds.append(outcome.seconds)
                    total, by_action = calls()
                    deploy_calls.append(total)
                    began = dt.datetime.now(dt.UTC)
                    clock = time.monotonic()
                    back = instant_rollback(sources, "dev", "web", ledger, platform=platform)
                    to_return.append(time.monotonic() - clock)
                    assert back.succeeded, back.message
                    to_verified.append((weights_set(ledger, began) - began).total_seconds())
                    instant_calls.append(calls()[0])
                redo = rollback(sources, "dev", "web", ledger, to="v3", platform=platform)
                assert redo.succeeded, redo.message
                redeploy_calls.append(calls()[0])
            finally:
                stop(pid, when)
    finally:
        server.stop()
    print(
        f"AWS API calls per deploy (10/50/100, bake 0), {repeat} runs: "
        f"{statistics.median(deploy_calls):.0f}; by action: "
        + ", ".join(
            f"{k.split(':')[1]} {v}" for k, v in sorted(by_action.items(), key=lambda i: -i[1])
        )
    )
    print(f"AWS API calls per instant rollback: {statistics.median(instant_calls):.0f}")
    print(f"AWS API calls per redeploy rollback (rollback --to): {redeploy_calls[0]}")
    print(
        f"rollback -> production weights set and read back: "
        f"{1000 * statistics.median(to_verified):.0f} ms median of {repeat}; command returned "
        f"after {1000 * statistics.median(to_return):.0f} ms (incl. writing the stack config)"
    )
    print(f"deploy against moto: {statistics.median(deploy_seconds):.2f} s median of {repeat}")
    with tempfile.TemporaryDirectory(prefix="shipyard-bench-harness-") as tmp:
        print_harness(harness_figures(harness_project(Path(tmp)), repeat), repeat)


if __name__ == "__main__":
    main()
