"""AWS platform figures against moto server on 127.0.0.1 (no AWS account involved).

- AWS API calls per deploy (bake 0, steps 10/50/100), per instant rollback and per redeploy
  rollback (`rollback --to`), counted by IAM action as shipyard's clients make them.
- Seconds from the start of `rollback` until the production listener's weights are set and
  read back (verified), and until the rollback command returns.

The stack is "applied" by the tests' seeder; the sample service on loopback plays the ALB's
test listener for smoke tests. moto answers in about a millisecond: the figures measure
shipyard's own work and call count, not AWS's latency (about 50-150 ms per ELBv2 call).
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

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(REPO))  # the tests' seeder

import logging  # noqa: E402

from moto.server import ThreadedMotoServer  # noqa: E402

from aws_harness.seed import apply_stack, clients_for, stack_outputs  # noqa: E402
from parity.render import render_stack  # noqa: E402
from rollout.deploy import DeployOptions, deploy  # noqa: E402
from rollout.ledger import SqliteLedger  # noqa: E402
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
                    verified = next(
                        e
                        for e in ledger.events("dev")
                        if e.kind == "weights-set"
                        and e.data["router"] == "production"
                        and dt.datetime.fromisoformat(e.at) >= began
                    )
                    to_verified.append(
                        (dt.datetime.fromisoformat(verified.at) - began).total_seconds()
                    )
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


if __name__ == "__main__":
    main()
