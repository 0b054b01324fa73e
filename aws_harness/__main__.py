"""The AWS harness: shipyard's AWS platform end to end on 127.0.0.1, without an account.

    python -m aws_harness serve --project DIR --env ENV --state DIR --ready FILE
    python -m aws_harness demo [--project DIR] [--format text|json]

Run from a shipyard checkout (PYTHONPATH at its root; `make demo-aws` does this). `serve`
creates ENV's stack in moto server, plays the ALB with HAProxy and the ECS tasks with real
processes, feeds CloudWatch from the traffic, and runs until SIGTERM, Ctrl-C or SIGHUP. Once
every task has a health verdict it writes FILE (JSON): `endpoint` (moto), `outputs` (the
stack's outputs file), `region`, each service's `production` and `test` listener URLs. Point
shipyard at it with `--platform aws --endpoint-url ENDPOINT --stack-outputs OUTPUTS` and dummy
credentials (AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test). Tests, benchmarks and `demo`
start it through aws_harness.fixture.AwsWorld. `demo` (`make demo-aws`) runs `shipyard demo`'s
story against it (aws_harness.demo); exit 1 when a request failed outside the faulty release,
2 on bad input. docs/aws.md, "The AWS harness", says what it reproduces of AWS.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from aws_harness.world import serve
from shipyard.errors import UsageError


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m aws_harness",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("serve", help="run moto server, HAProxy and the tasks until stopped")
    run.add_argument("--project", type=Path, required=True, help="the shipyard project")
    run.add_argument("--env", default="dev", help="the environment whose stack to create")
    run.add_argument("--state", type=Path, required=True, help="where logs and state go")
    run.add_argument("--ready", type=Path, required=True, help="written (JSON) once serving")
    run.add_argument(
        "--speedup",
        type=float,
        default=60.0,
        help="CloudWatch alarm periods run this many times faster (60: 60 s is 1 s)",
    )
    run.add_argument(
        "--exit-with-parent",
        action="store_true",
        help="stop once the process that started this one is gone (the fixture sets it)",
    )
    run.add_argument(
        "--interval", type=float, default=0.5, help="seconds between metric publications"
    )
    story = sub.add_parser("demo", help="shipyard demo's story on the AWS platform")
    story.add_argument("--project", type=Path, default=Path("."), help="a shipyard checkout")
    story.add_argument("--format", choices=("text", "json"), default="text")
    args = parser.parse_args()
    if args.command == "serve" and (args.speedup <= 0 or args.interval <= 0):
        parser.error("--speedup and --interval must be above 0")
    try:
        if args.command == "demo":
            sys.exit(demo(args.project.resolve(), args.format))
        serve(
            args.project.resolve(),
            args.env,
            args.state.resolve(),
            args.ready,
            args.speedup,
            args.interval,
            os.getppid() if args.exit_with_parent else None,
        )
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted: every process the harness started is stopped", file=sys.stderr)
        sys.exit(130)


def demo(project: Path, output_format: str) -> int:
    from aws_harness.demo import run_demo_aws
    from shipyard.cli.demo_cmd import print_phases
    from shipyard.cli.output import progress
    from shipyard.config.load import StackSources

    run = run_demo_aws(StackSources(project), progress)
    if output_format == "json":
        print(json.dumps(run.to_dict(), indent=2))
    else:
        print_phases(run, "shipyard demo on AWS (the harness): dev, web under continuous load")
        for phase in run.phases:
            if phase.outcome == "rolled-back":
                print(f"{phase.name}: {phase.detail}")
        where = f"{run.workspace}/.shipyard"
        print(f"ledger: {where}/ledger.db; the harness's logs: {where}/aws-harness/")
    bad = [p for p in run.phases if p.failed and p.outcome != "rolled-back"]
    return 1 if bad or not any(p.outcome == "rolled-back" for p in run.phases) else 0


if __name__ == "__main__":
    main()
