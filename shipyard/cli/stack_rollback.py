"""`shipyard rollback ENV --stack-version N`: the AWS engine, traffic guard and output."""

from __future__ import annotations

from typing import Any

from rollout.ledger import Ledger
from rollout.platforms.aws.engine import AutomationEngine, Engine
from rollout.platforms.aws.stack_history import BY_POSITION
from rollout.platforms.aws.stack_rollback import (
    StackRollback,
    StackRollbackResult,
    rollback_stack,
)
from rollout.platforms.aws.traffic_guard import AwsTrafficGuard, TrafficGuard
from shipyard.cli.output import emit_json, progress, stdout
from shipyard.config.load import StackSources, load_stack


def _guard(sources: StackSources, env: str, engine: Engine, endpoint_url: str | None) -> Any:
    def build() -> TrafficGuard:
        from rollout.platforms.aws.outputs import StackOutputs
        from shipyard.aws import Aws

        outputs = StackOutputs(env, engine.outputs(env), f"pulumi stack {env}")
        aws = Aws(load_stack(sources, env).config.region, endpoint_url, env)
        return AwsTrafficGuard(aws.client("elbv2"), aws.client("ecs"), outputs)

    return build


def render(result: StackRollbackResult, output_format: str) -> None:
    if output_format == "json":
        emit_json(result.to_dict())
        return
    update, out = result.update, stdout()
    how = " (numbered by position, 1 = oldest)" if result.numbering == BY_POSITION else ""
    if result.status == "planned":
        out.print(
            f"{result.environment}: would redeploy update {update.version}{how} from commit "
            f"{update.git_head} (started {update.started or 'unknown'}), then write "
            f"{' and '.join(result.files)} back with the live colors and versions kept",
            markup=False,
        )
        return
    for line in result.traffic:
        progress(line)
    out.print(f"{result.environment}: {result.message}{how}", markup=False)
    if result.files:
        progress(f"wrote {', '.join(result.files)} back (the live colors kept): commit them")


def stack_rollback(
    sources: StackSources,
    ledger: Ledger,
    env: str,
    version: int,
    *,
    actor: str,
    dry_run: bool,
    endpoint_url: str | None,
    output_format: str,
) -> None:
    engine = AutomationEngine(sources.root)
    request = StackRollback(env, version, actor, dry_run=dry_run)
    guard = _guard(sources, env, engine, endpoint_url)
    render(rollback_stack(request, sources, engine, ledger, guard), output_format)
