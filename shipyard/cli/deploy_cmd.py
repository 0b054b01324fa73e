"""`shipyard deploy`, `shipyard rollback`, `shipyard status`, `shipyard ledger`."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from rollout.deploy import DeployOptions, choose_service, deploy
from rollout.executor import Outcome, Platform
from rollout.gates import commit_id, image_tag
from rollout.ledger import Ledger, SqliteLedger, copy_ledger, lock_is_live, open_ledger
from rollout.ledger_head import RUNBOOK, fingerprint, ledger_key
from rollout.people import UNKNOWN, Nobody, commit_author, identity, person_name
from rollout.plan import Step
from rollout.platforms.aws.engine import AutomationEngine
from rollout.platforms.local.status import local_status
from rollout.platforms.local.target import LocalPlatform
from rollout.rollback import resume as resume_rollout
from rollout.rollback import rollback as rollback_release
from shipyard.cli.common import format_option, sources_from
from shipyard.cli.output import emit_json, progress, stdout, warn
from shipyard.config.load import load_stack
from shipyard.errors import CheckFailed, UsageError

F = Callable[..., Any]


def ledger_option(function: F) -> F:
    return click.option(
        "--ledger",
        "ledger_path",
        envvar="SHIPYARD_LEDGER",
        metavar="PATH",
        help="The ledger: a SQLite file or s3://bucket/prefix. Default: `ledger:` in the "
        "stack config, else .shipyard/ledger.db. Env: SHIPYARD_LEDGER.",
    )(function)


def platform_options(function: F) -> F:
    """--platform, and where the AWS platform finds its stack and its endpoint."""
    function = click.option(
        "--stack-outputs",
        "stack_outputs",
        envvar="SHIPYARD_STACK_OUTPUTS",
        metavar="FILE",
        type=click.Path(dir_okay=False, path_type=Path),
        help="AWS: the stack's outputs as `pulumi stack output -s ENV --json` writes them. "
        "Default: read through the Pulumi CLI. Env: SHIPYARD_STACK_OUTPUTS.",
    )(function)
    function = click.option(
        "--endpoint-url",
        envvar="AWS_ENDPOINT_URL",
        metavar="URL",
        help="AWS: talk to this AWS-compatible endpoint (moto server, LocalStack) instead of "
        "AWS; without credentials the emulator gets dummy ones. Env: AWS_ENDPOINT_URL.",
    )(function)
    return click.option(
        "--platform",
        type=click.Choice(list(PLATFORMS)),
        default="local",
        show_default=True,
        help="local: HAProxy and processes on 127.0.0.1. aws: ALB listener weights, ECS "
        "services and CloudWatch, from the stack's outputs (docs/aws.md).",
    )(function)


def _local_platform(
    sources: Any, env: str, endpoint_url: str | None, stack_outputs: Path | None
) -> Platform:
    return LocalPlatform(sources, env)


def _aws_platform(
    sources: Any, env: str, endpoint_url: str | None, stack_outputs: Path | None
) -> Platform:
    from rollout.platforms.aws.outputs import StackOutputs
    from rollout.platforms.aws.target import AwsPlatform
    from shipyard.aws import Aws

    if stack_outputs is not None:
        outputs = StackOutputs.from_file(stack_outputs, env)
    elif shutil.which("pulumi") is None:
        raise UsageError(
            "--platform aws reads the stack's outputs through the Pulumi CLI, which is not on "
            "PATH: install it, or pass --stack-outputs FILE (written by `pulumi stack output "
            f"-s {env} --json > FILE`)"
        )
    else:
        engine = AutomationEngine(sources.root)
        outputs = StackOutputs(env, engine.outputs(env), f"pulumi stack {env}")
    region = load_stack(sources, env).config.region

    def recorded(files: list[Path]) -> None:
        if files:
            names = ", ".join(sources.rel(f) for f in files)
            progress(f"recorded the live color and versions in {names}: commit them")

    return AwsPlatform(sources, env, outputs, Aws(region, endpoint_url, env), on_recorded=recorded)


# --platform NAME -> how to build it; the flags only that platform takes.
PLATFORMS: dict[str, Callable[[Any, str, str | None, Path | None], Platform]] = {
    "local": _local_platform,
    "aws": _aws_platform,
}
PLATFORM_FLAGS = {"aws": ("endpoint_url", "stack_outputs")}


def platform_from(
    ctx: click.Context,
    sources: Any,
    env: str,
    platform: str,
    endpoint_url: str | None,
    stack_outputs: Path | None,
) -> Platform:
    for owner, flags in PLATFORM_FLAGS.items():
        given = [
            "--" + name.replace("_", "-")
            for name in flags
            if owner != platform and ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE
        ]  # set in the environment (AWS_ENDPOINT_URL for an S3 ledger, say): not a mistake
        if given:
            raise UsageError(
                f"{' and '.join(given)} {'apply' if len(given) > 1 else 'applies'} to "
                f"--platform {owner} only: add --platform {owner}, or drop "
                f"{'them' if len(given) > 1 else 'it'}"
            )
    return PLATFORMS[platform](sources, env, endpoint_url, stack_outputs)


def _ledger(ctx: click.Context, path: str | None, reading: bool = False) -> tuple[Any, Ledger]:
    """--ledger / $SHIPYARD_LEDGER, else `ledger:` in the stack config, else .shipyard/.
    `reading`: a command that only reads, so a ledger named that is not there is a typo; a
    writer may start a new ledger at a path it names (in an existing folder), and says so."""
    sources = sources_from(ctx)
    if path is None and sources.environments():
        path = load_stack(sources, sources.environments()[0]).config.ledger
    ledger = open_ledger(sources.root, path, reading=reading)
    if not reading and isinstance(ledger, SqliteLedger) and path and not ledger.path.exists():
        ctx.call_on_close(lambda: _say_if_started(ledger.path))
    return sources, ledger


def _say_if_started(path: Path) -> None:
    """After a command that succeeded (a failure keeps its one line): a ledger it started at a
    path you named, so a typo does not pass unseen."""
    if sys.exc_info()[0] is None and path.exists():
        warn(f"started a new ledger at {path}: there was none (a typo? check --ledger)")


def _progress(index: int, step: Step, phase: str, result: dict[str, Any]) -> None:
    """One line per step as it starts; the health figures when an analysis finishes."""
    label = f"step {index + 1}" if index >= 0 else "rollback"
    if phase == "started":
        progress(f"{label}: {step.describe()}")
    elif step.kind == "analyse" and "requests" in result:
        progress(
            f"{label}: healthy: {result['requests']} requests, {result['http_5xx']} 5xx, "
            f"{result['errors']} errors, {result['response_ms']} ms"
        )
    elif step.kind == "await-healthy" and "ready_seconds" in result:
        progress(f"{label}: ready after {result['ready_seconds']:.2f} s")


def _iso_time(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--commit-time {text!r} is not an ISO 8601 time, e.g. 2026-11-28T09:14:00Z "
            "(git log -1 --format=%cI)"
        ) from None
    if moment.tzinfo is None:
        raise UsageError(f"--commit-time {text!r} has no time zone: add Z or +HH:MM")
    return moment.isoformat()


def _who(by: str | None) -> str:
    try:
        return identity(by)  # an empty --by is refused, never replaced by the default
    except Nobody:
        return UNKNOWN  # a gated environment then refuses: nobody can vouch for it


def _author(given: str | None, root: Path, commit: str) -> str:
    """--author as given (empty: unknown), else the author git records for the commit."""
    if given is not None:
        return person_name(given, "--author") or UNKNOWN
    return commit_author(root, commit) or UNKNOWN


def _finish(outcome: Outcome, output_format: str, environment: str) -> None:
    if output_format == "json":
        emit_json(
            {
                "environment": environment,
                "status": outcome.status,
                "rollout": outcome.rollout,
                "message": outcome.message,
                "seconds": outcome.seconds,
                "figures": outcome.figures,
            }
        )
    else:
        stdout().print(
            f"{outcome.status}: {outcome.message} ({outcome.seconds:.2f} s)", markup=False
        )
    if not outcome.ok:
        raise CheckFailed(f"deploy {outcome.status}: {outcome.message}")


@click.command("deploy")
@click.argument("env")
@click.option("--version", "version", help="The version (image tag) to deploy.")
@click.option(
    "--resume",
    is_flag=True,
    help="Carry on an interrupted or paused rollout from the step it was in (a failed "
    "one, whose rollback could not finish, is only undone: `shipyard rollback ENV`). With "
    "--service, only when the unfinished rollout is that service's.",
)
@click.option("--service", metavar="S", help="The service (required when ENV has several).")
@platform_options
@click.option(
    "--commit",
    help="The commit being released (a git hash or tag, up to 64 characters), recorded in the "
    "ledger; approvals name it. Default: unknown.",
)
@click.option(
    "--commit-time",
    metavar="ISO8601",
    help="When that commit was made (lead time for changes), e.g. 2026-11-28T09:14:00Z.",
)
@click.option(
    "--author",
    metavar="WHO",
    help="The change's author, whose own approval never counts. Default: the author git "
    "records for --commit (HEAD without --commit) when the project is a git work tree. "
    "Required where ENV needs approvals.",
)
@click.option(
    "--by",
    metavar="WHO",
    help="Who deploys. Default: $SHIPYARD_ACTOR, $GITHUB_ACTOR, or git config user.email.",
)
@ledger_option
@format_option("text", "json")
@click.pass_context
def deploy_command(
    ctx: click.Context,
    env: str,
    version: str | None,
    resume: bool,
    service: str | None,
    platform: str,
    endpoint_url: str | None,
    stack_outputs: Path | None,
    commit: str | None,
    commit_time: str | None,
    author: str | None,
    by: str | None,
    ledger_path: str | None,
    output_format: str,
) -> None:
    """Deploy a version blue-green: idle color, health, smoke, weighted shifts with analysis.

    Any failed check sends all traffic back to the stable color, then stops the new one.
    On AWS the live color and versions are then written back into stacks/ENV.yaml and
    Pulumi.ENV.yaml: commit them. Exit 0 deployed; 1 rolled back (the message names the
    check and its figures), or the environment is locked by another deploy; 2 bad input,
    nothing changed.

    \b
    Examples:
      shipyard deploy dev --version v2 --service web
      shipyard deploy dev --resume
      pulumi stack output -s prod --json > prod.json
      shipyard deploy prod --platform aws --stack-outputs prod.json \\
          --service web --version 3f9c2e1 --commit 3f9c2e1
    """
    actor = _who(by)
    sources, ledger = _ledger(ctx, ledger_path)
    sources.require_environment(env)
    if resume and version:
        raise UsageError("--resume carries on the interrupted release: drop --version")
    if not resume and not version:
        raise UsageError("--version is required (or --resume an interrupted rollout)")
    commit = UNKNOWN if commit is None else commit_id(commit)
    where = platform_from(ctx, sources, env, platform, endpoint_url, stack_outputs)
    if resume:
        outcome = resume_rollout(
            sources,
            env,
            ledger,
            actor=actor,
            on_step=_progress,
            platform=where,
            service_name=service,
        )
    else:
        assert version is not None
        options = DeployOptions(
            env,
            version,
            service,
            commit=commit,
            commit_time=_iso_time(commit_time),
            author=_author(author, sources.root, commit),
            actor=actor,
        )
        outcome = deploy(sources, options, ledger, on_step=_progress, platform=where)
    _finish(outcome, output_format, env)


@click.command("rollback")
@click.argument("env")
@click.option("--service", metavar="S", help="The service (required when ENV has several).")
@click.option(
    "--to",
    "to_version",
    metavar="VERSION",
    help="Redeploy this version through the normal blue-green path.",
)
@click.option(
    "--if-live",
    metavar="VERSION",
    help="Only when VERSION is live (or its rollout was interrupted); otherwise do nothing, "
    "exit 0. For CI's on-failure step: a deploy that rolled itself back is left alone.",
)
@click.option(
    "--stack-version",
    type=click.IntRange(min=1),
    metavar="N",
    help="AWS: redeploy the stack as its successful update N left it (its git.head checked "
    "out in a temporary worktree, its recorded config), then write stacks/ENV.yaml and "
    "Pulumi.ENV.yaml back with the live colors kept. On a self-managed backend (S3, files) "
    "N counts updates from the oldest, 1 first. Needs the pulumi CLI.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="With --stack-version: say which update, commit and files, change nothing.",
)
@platform_options
@ledger_option
@format_option("text", "json")
@click.pass_context
def rollback_command(
    ctx: click.Context,
    env: str,
    service: str | None,
    to_version: str | None,
    if_live: str | None,
    stack_version: int | None,
    dry_run: bool,
    platform: str,
    endpoint_url: str | None,
    stack_outputs: Path | None,
    ledger_path: str | None,
    output_format: str,
) -> None:
    """Roll back: instantly while the previous color is warm, else by redeploying.

    Without --to, this undoes the service's last rollout, when it succeeded.

    \b
    - previous color still running: all traffic back to it (well under a second);
    - previous color stopped: the release that was live before, redeployed blue-green;
    - last rollout already rolled back (by its checks, by hand, or a rollback itself), or
      none in the ledger: nothing changes, exit 1 (go further back with --to);
    - --to VERSION: that version, redeployed blue-green;
    - the last rollout is unfinished (its process died, its analysis paused it, or the
      platform failed under it): undo it, traffic to its stable color, its new color
      stopped; locally a dead HAProxy is restarted first, as the ledger records what is live.
    - --stack-version N (AWS): `pulumi up` from update N's commit, under the lock; traffic
      then checked to be on colors with running tasks; recorded in the ledger.
    Exit 0 when traffic is back on a good release; 1 when that failed.
    """
    if dry_run and stack_version is None:
        raise UsageError("--dry-run applies to --stack-version only: add it, or drop --dry-run")
    sources, ledger = _ledger(ctx, ledger_path)
    sources.require_environment(env)
    for flag, value in (("--to", to_version), ("--if-live", if_live)):
        if value is not None:
            image_tag(value, flag)
    if stack_version is not None and (to_version or if_live or service):
        raise UsageError(
            "--stack-version redeploys the whole stack, every service: drop --to, --if-live "
            "and --service"
        )
    explicit = ctx.get_parameter_source("platform") is not ParameterSource.DEFAULT
    if stack_version is not None and platform != "aws" and explicit:
        raise UsageError(
            f"--stack-version redeploys a Pulumi stack on AWS, not on --platform {platform} "
            "(it has no stack history): drop --platform, or use --to VERSION"
        )
    if stack_version is not None:
        from shipyard.cli.stack_rollback import stack_rollback

        stack_rollback(
            sources,
            ledger,
            env,
            stack_version,
            actor=_who(None),
            dry_run=dry_run,
            endpoint_url=endpoint_url,
            output_format=output_format,
        )
        return
    where = platform_from(ctx, sources, env, platform, endpoint_url, stack_outputs)
    outcome = rollback_release(
        sources,
        env,
        service,
        ledger,
        to=to_version,
        actor=_who(None),
        on_step=_progress,
        platform=where,
        if_live=if_live,
    )
    _finish(outcome, output_format, env)


@click.command("scale-down")
@click.argument("env")
@click.option("--service", metavar="S", help="Only this service (default: every service).")
@click.option("--now", is_flag=True, help="End the instant-rollback window now.")
@click.option(
    "--wait", is_flag=True, help="Wait until the window has passed, then scale down (CI)."
)
@platform_options
@ledger_option
@format_option("text", "json")
@click.pass_context
def scale_down_command(
    ctx: click.Context,
    env: str,
    service: str | None,
    now: bool,
    wait: bool,
    platform: str,
    endpoint_url: str | None,
    stack_outputs: Path | None,
    ledger_path: str | None,
    output_format: str,
) -> None:
    """Retire the previous color once its instant-rollback window has passed.

    A rollout keeps the old color running for deploy.scaleDownDelaySeconds so `rollback`
    can flip back at once; this scales it to its idle size afterwards (ECS:
    idleDesiredCount; local: its processes stop). A color that is still in its window is
    left alone (--wait waits, --now ends it); one that takes traffic again is kept.
    Idempotent, and it takes the environment's lock. Exit 0; 1 when the lock is held.

    \b
    Examples:
      shipyard scale-down dev
      shipyard scale-down prod --platform aws --stack-outputs prod.json --wait
    """
    from rollout.scale_down import scale_down

    if now and wait:
        raise UsageError("--now and --wait contradict each other: choose one")
    sources, ledger = _ledger(ctx, ledger_path)
    sources.require_environment(env)
    config = load_stack(sources, env).config
    chosen = [choose_service(config, service, env)] if service else None
    where = platform_from(ctx, sources, env, platform, endpoint_url, stack_outputs)
    results = scale_down(
        sources,
        env,
        chosen,
        ledger,
        where,
        now=now,
        wait=wait,
        actor=_who(None),
    )
    if output_format == "json":
        emit_json({"environment": env, "services": [r.to_dict() for r in results]})
        return
    for result in results:
        stdout().print(result.line(), markup=False)


@click.command("status")
@click.argument("env")
@ledger_option
@format_option("text", "json")
@click.pass_context
def status_command(
    ctx: click.Context, env: str, ledger_path: str | None, output_format: str
) -> None:
    """Per service: live color, versions, weights, health; recent deploys; the lock."""
    sources, ledger = _ledger(ctx, ledger_path, reading=True)
    sources.require_environment(env)
    report = environment_status(sources, env, ledger)
    if output_format == "json":
        emit_json(report)
        return
    out = stdout()
    for service in report["local"]["services"]:
        out.print(
            f"{service['name']}: live {service['active_color']}, weights "
            f"{service['weights']}, versions {service['versions']}",
            markup=False,
        )
    for rollout in report["rollouts"][-10:]:
        out.print(
            f"{rollout['started']} {rollout['service']}@{rollout['version']}: "
            f"{rollout['state']} {rollout['message'] or ''}",
            markup=False,
        )
    out.print(lock_line(report["lock"]), markup=False)


def lock_line(lock: dict[str, Any] | None) -> str:
    """The lock as `status` says it: free, held, or left by a holder that is gone."""
    if lock is None:
        return "lock: free"
    held = f"lock: {lock['holder']} (pid {lock['pid']} on {lock['host']}) since {lock['since']}"
    if lock["live"]:
        return held
    gone = (
        "its process is gone"
        if lock["host"] == socket.gethostname()
        else f"its lease expired at {lock['lease_until']}"
    )
    return f"{held}: stale ({gone}); the next deploy or rollback takes it over"


def environment_status(sources: Any, env: str, ledger: Ledger) -> dict[str, Any]:
    from rollout.state import rollouts_of

    lock = ledger.lock(env)
    live_lock = lock is not None and lock_is_live(lock)
    return {
        "environment": env,
        "local": local_status(sources, env),
        "rollouts": [r.to_dict() for r in rollouts_of(ledger.events(env), live_lock)],
        "lock": None if lock is None else {**lock.__dict__, "live": live_lock},
    }


@click.group("ledger")
def ledger_group() -> None:
    """The ledger of releases, steps, checks and outcomes."""


@ledger_group.command("verify")
@click.option(
    "--accept-head",
    is_flag=True,
    help="After you have checked the ledger against a backup (docs/runbook.md): move the head "
    "checkpoint to the chain's end as it is now, recorded as a `head-accepted` event. Needs the "
    "writers' key (never creates one); never repairs a broken chain.",
)
@click.option("--by", metavar="WHO", help="Who accepts (with --accept-head); default as deploy.")
@ledger_option
@click.pass_context
def verify_command(
    ctx: click.Context, accept_head: bool, by: str | None, ledger_path: str | None
) -> None:
    """Check the hash chain and its keyed head checkpoint: exit 1 naming each edited,
    reordered, deleted, rewritten or damaged event, an impossible time, a cut tail, events
    added beyond the checkpoint or an emptied ledger.

    What this proves and what it cannot: docs/delivery.md. The checkpoint's key is
    $SHIPYARD_LEDGER_KEY, else ~/.config/shipyard/ledger.key; a passing check prints its
    fingerprint, to compare with your team's.
    """
    if by is not None and not accept_head:
        raise UsageError("--by names who accepts the head: add --accept-head, or drop --by")
    _, ledger = _ledger(ctx, ledger_path, reading=True)
    out = stdout()
    if accept_head:
        accepted = ledger.accept_head(identity(by))
        if accepted is None:
            out.print(f"{ledger.path}: the head checkpoint already matches", markup=False)
        else:
            out.print(
                f"{ledger.path}: head checkpoint moved to event {accepted.seq} "
                f"(head-accepted, by {accepted.actor})",
                markup=False,
            )
    problems = ledger.verify()
    for problem in problems:
        out.print(problem, markup=False)
    if problems:
        raise CheckFailed(
            f"the ledger at {ledger.path} fails verification ({len(problems)} problem(s)): "
            f"follow {RUNBOOK}"
        )
    count = len(ledger.events())
    key = ledger_key(create=False)
    out.print(
        f"{ledger.path}: {count} events, chain intact, head checkpoint matches (key fingerprint "
        f"{fingerprint(key) if key else 'none here'})"
        if count
        else f"{ledger.path}: no events yet",
        markup=False,
    )


@ledger_group.command("copy")
@click.argument("source", metavar="SRC")
@click.argument("destination", metavar="DST")
@click.pass_context
def copy_command(ctx: click.Context, source: str, destination: str) -> None:
    """Copy every event from SRC to an empty DST (a file path or s3://bucket/prefix).

    Times, actors and the hash chain are kept: DST verifies with the same hashes.
    """
    sources = sources_from(ctx)
    count = copy_ledger(
        open_ledger(sources.root, source, reading=True), open_ledger(sources.root, destination)
    )
    stdout().print(f"copied {count} events from {source} to {destination}", markup=False)


@ledger_group.command("history")
@click.argument("env", required=False)
@ledger_option
@format_option("text", "json")
@click.pass_context
def history_command(
    ctx: click.Context, env: str | None, ledger_path: str | None, output_format: str
) -> None:
    """Every event, oldest first (optionally one environment's)."""
    _, ledger = _ledger(ctx, ledger_path, reading=True)
    events = ledger.events(env)
    if output_format == "json":
        emit_json([e.to_dict() for e in events])
        return
    out = stdout()
    for event in events:
        out.print(
            f"{event.seq:>5} {event.at} {event.environment} {event.kind} "
            f"{json.dumps(event.data, sort_keys=True)[:140]}",
            markup=False,
        )
