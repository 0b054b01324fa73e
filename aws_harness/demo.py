"""`make demo-aws`: `shipyard demo`'s story on the AWS platform, against the harness.

In a scratch workspace (`.shipyard/demo-aws/`, the demo's copy of the stacks: web on two
tasks, a faulty v3), the harness plays dev's AWS account (moto server, HAProxy as the ALB, the
tasks as processes); under continuous load on web's production listener: deploy v1, v2; roll
back to v1 by hand; deploy v3, which answers 30% 5xx and is rolled back by itself. shipyard
runs as `shipyard deploy dev --platform aws --endpoint-url E --stack-outputs F` does.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from aws_harness.fixture import AwsWorld
from rollout.demo import (
    DEMO_POLICY,
    ENVIRONMENT,
    SERVICE,
    DemoRun,
    Phase,
    check_demo_inputs,
    demo_workspace,
    run_story,
)
from rollout.deploy import DeployOptions, deploy
from rollout.executor import Outcome
from rollout.ledger import SqliteLedger
from rollout.load import Load
from rollout.platforms.aws.outputs import StackOutputs
from rollout.platforms.aws.target import AwsPlatform
from rollout.platforms.local.owned import strays
from rollout.rollback import instant_rollback
from shipyard.aws import Aws
from shipyard.config.load import StackSources, load_stack
from shipyard.errors import UsageError

# ECS only calls a task ready once its target group's health check passes healthyThreshold
# times: the readiness wait must cover healthyThreshold x interval + timeout (35 s with the
# template's check), though the harness checks every local.checkIntervalMs.
AWS_DEMO_POLICY = {**DEMO_POLICY, "readyTimeoutSeconds": 40}
# The analysis reads CloudWatch's one-minute periods: within a 2 s bake, the minute's earlier
# clean requests on the same target group can dilute v3's 30% below the 2% limit. The 5xx
# alarm sees each period (one second on the harness) on its own: one 5xx in one period fires it.
AWS_DEMO_ALARMS = {"http5xxCount": 1, "evaluationPeriods": 1}


def run_demo_aws(sources: StackSources, progress: Callable[[str], None]) -> DemoRun:
    check_demo_inputs(sources, os.environ)
    running = strays(sources.root / ".shipyard" / "demo-aws" / ".shipyard" / "aws-harness")
    if running:
        raise UsageError(
            f"make demo-aws is already running in {sources.root} (processes "
            f"{', '.join(map(str, running))}): wait for it to end, or stop it, then run it again"
        )
    workspace = demo_workspace(sources, "demo-aws", AWS_DEMO_POLICY, AWS_DEMO_ALARMS)
    run = DemoRun(workspace=str(workspace.root))
    ledger = SqliteLedger(workspace.root / ".shipyard" / "ledger.db")
    began = time.monotonic()
    with AwsWorld.start(workspace.root, ENVIRONMENT) as world:
        run.phases.append(Phase("harness up dev", round(time.monotonic() - began, 2), 0, 0, "up"))
        progress(f"dev's AWS is up on 127.0.0.1 ({run.phases[0].seconds:.2f} s): {world.endpoint}")
        outputs = StackOutputs.from_file(world.outputs_file, ENVIRONMENT)
        aws = Aws(load_stack(workspace, ENVIRONMENT).config.region, world.endpoint, ENVIRONMENT)
        platform = AwsPlatform(workspace, ENVIRONMENT, outputs, aws)

        def release(version: str) -> Outcome:
            options = DeployOptions(ENVIRONMENT, version, SERVICE, author="demo", actor="demo")
            return deploy(workspace, options, ledger, platform=platform)

        def rollback() -> Outcome:
            return instant_rollback(
                workspace, ENVIRONMENT, SERVICE, ledger, "demo", platform=platform
            )

        with Load(f"{world.url(SERVICE)}/", threads=2, max_seconds=400) as load:
            load.wait_for(50)
            run_story(run, load, release, rollback, progress)
        run.total_requests = len(load.samples)
        run.total_failed = len(load.failed)
    return run
