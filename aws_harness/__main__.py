"""python -m aws_harness serve --project DIR --env ENV --state DIR --ready FILE

Runs the AWS harness (aws_harness.world) until SIGTERM or Ctrl-C. Tests, benchmarks and
`make demo-aws` start it through aws_harness.fixture.AwsWorld.
"""

from __future__ import annotations

import argparse
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
    args = parser.parse_args()
    serve(
        args.project.resolve(),
        args.env,
        args.state.resolve(),
        args.ready,
        args.speedup,
        args.interval,
    )


if __name__ == "__main__":
    main()
