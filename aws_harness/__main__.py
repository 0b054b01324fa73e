"""python -m aws_harness serve --project DIR --env ENV --state DIR --ready FILE
python -m aws_harness demo [--project DIR] [--format text|json]

`serve` runs the AWS harness (aws_harness.world) until SIGTERM or Ctrl-C; tests, benchmarks and
`demo` start it through aws_harness.fixture.AwsWorld. `demo` (`make demo-aws`) runs `shipyard
demo`'s story on the AWS platform against it (aws_harness.demo); exit 1 when a request failed
outside the faulty release.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from aws_harness.world import serve


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m aws_harness", description=__doc__.splitlines()[0]
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
        "--interval", type=float, default=0.5, help="seconds between metric publications"
    )
    story = sub.add_parser("demo", help="shipyard demo's story on the AWS platform")
    story.add_argument("--project", type=Path, default=Path("."), help="a shipyard checkout")
    story.add_argument("--format", choices=("text", "json"), default="text")
    args = parser.parse_args()
    if args.command == "demo":
        sys.exit(demo(args.project.resolve(), args.format))
    serve(
        args.project.resolve(),
        args.env,
        args.state.resolve(),
        args.ready,
        args.speedup,
        args.interval,
    )


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
