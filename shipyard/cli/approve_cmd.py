"""`shipyard approve|reject ENV --release R` and `shipyard promote FROM TO`."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import click

from rollout.deploy import choose_service
from rollout.gates import parse_release, record_decision
from rollout.people import identity
from rollout.promote import promote, promotion_preview
from shipyard.cli.common import format_option
from shipyard.cli.deploy_cmd import (
    _finish,
    _ledger,
    _progress,
    ledger_option,
    platform_from,
    platform_options,
)
from shipyard.cli.output import emit_json, stdout
from shipyard.config.load import load_stack

F = TypeVar("F", bound=Callable[..., Any])


def _decide(
    ctx: click.Context,
    env: str,
    release: str,
    by: str | None,
    comment: str | None,
    ledger_path: str | None,
    approve: bool,
) -> None:
    target = parse_release(release)
    reviewer = identity(by)
    sources, ledger = _ledger(ctx, ledger_path)
    sources.require_environment(env)
    choose_service(load_stack(sources, env).config, target.service, env)  # as deploy would
    event = record_decision(ledger, env, target, reviewer, approve, comment)
    verb = "approved" if approve else "rejected"
    click.echo(f"{reviewer} {verb} {target.key} for {env} (ledger event {event.seq})")


def decision_options(function: F) -> F:
    function = click.option("--comment", metavar="TEXT", help="Why (kept in the ledger).")(function)
    function = click.option(
        "--by",
        metavar="WHO",
        help="Reviewer. Default: $SHIPYARD_ACTOR, $GITHUB_ACTOR, or git config user.email.",
    )(function)
    function = click.option(
        "--release", required=True, metavar="R", help="The release: service@version#commit."
    )(function)
    return cast(F, ledger_option(function))


@click.command("approve")
@click.argument("env")
@decision_options
@click.pass_context
def approve_command(
    ctx: click.Context,
    env: str,
    release: str,
    by: str | None,
    comment: str | None,
    ledger_path: str | None,
) -> None:
    """Approve a release into ENV (one reviewer, one vote, never the author's own)."""
    _decide(ctx, env, release, by, comment, ledger_path, approve=True)


@click.command("reject")
@click.argument("env")
@decision_options
@click.pass_context
def reject_command(
    ctx: click.Context,
    env: str,
    release: str,
    by: str | None,
    comment: str | None,
    ledger_path: str | None,
) -> None:
    """Reject a release for ENV: it cannot enter ENV, whatever approvals follow."""
    _decide(ctx, env, release, by, comment, ledger_path, approve=False)


def _not_nan(value: float | None) -> float | None:
    """FloatRange lets NaN through (every comparison with NaN is false)."""
    if value is not None and math.isnan(value):
        raise click.BadParameter("nan is not in the range 0<=x<=100.")
    return value


@click.command("promote")
@click.argument("source", metavar="FROM")
@click.argument("target", metavar="TO")
@click.option("--service", metavar="S", help="The service (required when there are several).")
@click.option(
    "--min-parity",
    type=click.FloatRange(0, 100),
    callback=lambda ctx, param, value: _not_nan(value),
    metavar="PERCENT",
    help="First check parity between FROM and TO (`shipyard parity FROM TO --min-score "
    "PERCENT`) and refuse when it fails: a score below PERCENT, an undeclared or missing "
    "difference on a critical path, a catch-all rule. Without it, parity is not checked.",
)
@click.option("--by", metavar="WHO", help="Who promotes (the deployer; cannot approve).")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Say which release would be promoted and what TO's gate still needs; change nothing.",
)
@platform_options
@ledger_option
@format_option("text", "json")
@click.pass_context
def promote_command(
    ctx: click.Context,
    source: str,
    target: str,
    service: str | None,
    min_parity: float | None,
    by: str | None,
    dry_run: bool,
    platform: str,
    endpoint_url: str | None,
    stack_outputs: Path | None,
    ledger_path: str | None,
    output_format: str,
) -> None:
    """Take the release live in FROM to TO, through TO's approval gate.

    The path is dev -> staging -> prod, one step at a time. The release must have succeeded
    in FROM. With --min-parity, parity between FROM and TO must pass first: exit 1 names
    the first failures (prod reading staging's secret, TLS removed, another image
    repository, a hand-edited Pulumi.TO.yaml, a catch-all rule, a score below PERCENT),
    nothing deployed. TO's gate (deploy.approvals in its stack config) must be satisfied:
    exit 1 lists exactly what is missing. Lead time and approval wait go to the ledger.
    """
    actor = identity(by)
    sources, ledger = _ledger(ctx, ledger_path, reading=dry_run)
    sources.require_environment(target)
    if dry_run:
        preview = promotion_preview(sources, source, target, service, ledger, actor)
        if output_format == "json":
            emit_json(preview)
            return
        gate = preview["gate"]
        stdout().print(
            f"{preview['release']} (by {preview['author']}) would go {source} -> {target}; "
            + ("the gate is satisfied" if gate["satisfied"] else gate["explanation"]),
            markup=False,
        )
        return
    where = platform_from(ctx, sources, target, platform, endpoint_url, stack_outputs)
    outcome = promote(
        sources,
        source,
        target,
        service,
        ledger,
        actor,
        min_parity,
        on_step=_progress,
        platform=where,
    )
    _finish(outcome, output_format, target)
