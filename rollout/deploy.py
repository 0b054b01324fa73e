"""`deploy` and `rollback` as library calls: the CLI is one way in."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from rollout.executor import Executor, Outcome, Platform, StepListener
from rollout.gates import ReleaseId, evaluate_gate, image_tag, unvouched
from rollout.ledger import Ledger, require_verified
from rollout.notify import Notifier
from rollout.people import UNKNOWN
from rollout.plan import Plan, Release, Step, build_plan
from rollout.platforms.local.target import LocalPlatform
from rollout.state import RolloutState, Unfinished, rollouts_of, unfinished_rollout
from shipyard.config.load import StackSources, load_stack
from shipyard.config.model import Service, StackConfig
from shipyard.errors import CheckFailed, UsageError


@dataclass(frozen=True)
class DeployOptions:
    environment: str
    version: str
    service: str | None = None
    commit: str = UNKNOWN
    commit_time: str | None = None
    author: str = UNKNOWN  # a gated environment refuses it unless the ledger knows the author
    actor: str = "shipyard"
    purpose: str = "deploy"


def choose_service(config: StackConfig, name: str | None, env: str) -> Service:
    if name is None:
        if len(config.services) == 1:
            return config.services[0]
        names = ", ".join(s.name for s in config.services)
        raise UsageError(f"{env} has several services ({names}): choose one with --service")
    try:
        return config.service(name)
    except KeyError:
        names = ", ".join(s.name for s in config.services)
        raise UsageError(f"no service {name!r} in {env} (services: {names})") from None


def on_platform(
    platform: Platform | None,
    sources: StackSources,
    environment: str,
    ledger: Ledger,
    plan: Plan | None = None,
) -> Platform:
    """The platform given (default: local); an unfinished plan must be finished where it ran.
    The local platform restarts what is missing as this ledger records it live."""
    chosen = platform or LocalPlatform(sources, environment, ledger)
    if isinstance(chosen, LocalPlatform) and chosen.ledger is None:
        chosen.ledger = ledger
    if plan is not None and plan.platform != chosen.name:
        raise UsageError(
            f"the unfinished rollout of {plan.release.key} ran on the {plan.platform} "
            f"platform: repeat the command with --platform {plan.platform}"
        )
    return chosen


def deploy(
    sources: StackSources,
    options: DeployOptions,
    ledger: Ledger,
    on_step: StepListener | None = None,
    platform: Platform | None = None,
) -> Outcome:
    """Put a version live on the idle color of one service, or roll back trying."""
    image_tag(options.version)
    config = load_stack(sources, options.environment).config
    service = choose_service(config, options.service, options.environment)
    notifier = Notifier(config.deploy.webhook_url, options.environment, ledger)
    try:
        check_gate(ledger, options.environment, config, service.name, options)
    except CheckFailed as refused:
        notifier.send(
            "approval-needed", str(refused), service=service.name, version=options.version
        )
        raise
    where = on_platform(platform, sources, options.environment, ledger)
    stable = where.live(service)
    target = where.target(service)
    previous = target.fleet.versions()[stable]
    release = Release(
        service.name, options.version, options.commit, options.commit_time, options.author
    )
    plan = build_plan(options.environment, release, config.deploy, stable, previous)
    plan = dataclasses.replace(plan, purpose=options.purpose, platform=where.name)
    lock = ledger.acquire(options.environment, f"{options.actor} deploying {release.key}")
    try:
        unfinished = unfinished_rollout(ledger, options.environment)
        if unfinished is not None:
            raise CheckFailed(
                f"{options.environment} has {unfinished.describe()}: finish it with "
                f"`shipyard deploy {options.environment} --resume` or undo it with "
                f"`shipyard rollback {options.environment}`"
            )
        executor = Executor(plan, target, ledger, actor=options.actor, on_step=on_step)
        notifier.send(
            "started",
            f"deploying {release.key} (by {options.actor})",
            service=service.name,
            version=release.version,
        )
        outcome = executor.run()
        notifier.send(
            outcome.status,
            outcome.message,
            service=service.name,
            version=release.version,
            seconds=outcome.seconds,
        )
        return outcome
    finally:
        ledger.release(lock)


def check_gate(
    ledger: Ledger,
    environment: str,
    config: StackConfig,
    service: str,
    options: DeployOptions,
) -> None:
    """Refuse, before anything changes, a release the environment's approvals do not cover.

    A rollback to a version that was live here before needs none: it was approved then, and a
    2 AM rollback must not wait for reviewers. "Live before" is the ledger's word only (a
    succeeded rollout of that service's version in this environment), never the stack
    config's `versions`, which anyone editing stacks/ENV.yaml can set. Any other version goes
    through the gate, also when it arrives as `rollback --to`, and so does an ordinary deploy
    of a version that was live before. The gate needs the release's author (given, or
    recorded in the ledger) and its deployer: without them it refuses (exit 2) rather than
    count the author's own approval."""
    require_verified(ledger)
    policy = config.deploy.approvals
    if policy.required == 0:
        return
    if options.purpose == "rollback" and was_live(ledger, environment, service, options.version):
        ledger.append(
            environment,
            "gate-skipped",
            {"service": service, "version": options.version, "reason": "rollback to a "
             f"version that was live in {environment} before"},
            actor=options.actor,
        )  # fmt: skip
        return
    release = ReleaseId(service, options.version, options.commit)
    problem = unvouched(ledger, environment, release, options.author, options.actor)
    if problem is not None:
        raise UsageError(problem)
    result = evaluate_gate(ledger, environment, release, policy, options.author, options.actor)
    if not result.satisfied:
        raise CheckFailed(result.explain())
    ledger.append(
        environment,
        "gate-passed",
        {**release.to_dict(), "approvals": result.counted},
        actor=options.actor,
    )


def was_live(ledger: Ledger, environment: str, service: str, version: str) -> bool:
    """Whether a rollout of this service's version ever succeeded in the environment."""
    return any(
        r.service == service and r.version == version and r.state is RolloutState.SUCCEEDED
        for r in rollouts_of(ledger.events(environment), lock_held=False)
    )


def instant_rollback(
    sources: StackSources,
    environment: str,
    service_name: str | None,
    ledger: Ledger,
    actor: str = "shipyard",
    platform: Platform | None = None,
) -> Outcome:
    """While the previous color is warm, send all traffic back to it. An unfinished rollout
    (interrupted, paused or failed) is undone instead: traffic to its stable color, its new
    color stopped."""
    lock = ledger.acquire(environment, f"{actor} rolling back")
    try:
        unfinished = unfinished_rollout(ledger, environment)
        if unfinished is not None:
            stuck = unfinished.plan.release.service
            if service_name is not None and service_name != stuck:
                raise CheckFailed(
                    f"{environment} has {unfinished.describe()}: undo it first with "
                    f"`shipyard rollback {environment} --service {stuck}`"
                )
            return roll_back_unfinished(
                sources, environment, ledger, unfinished, actor, platform=platform
            )
    finally:
        ledger.release(lock)
    config = load_stack(sources, environment).config
    service = choose_service(config, service_name, environment)
    where = on_platform(platform, sources, environment, ledger)
    live = where.live(service, start=False)
    previous = live.other
    target = where.target(service, start=False)
    versions = target.fleet.versions()
    if versions.get(previous) is None:
        raise PreviousColorGone(
            f"the previous color ({previous}) of {service.name} is no longer running: "
            f"redeploy the earlier version with `shipyard rollback {environment} --to V`"
        )
    release = Release(service.name, versions[previous] or "unknown", author=actor)
    instant = Plan(
        environment=environment,
        release=release,
        stable=live,
        new=previous,
        previous_version=versions.get(live),
        steps=(
            Step("shift", weights=((previous, 100), (live, 0))),
            Step("finalise", color=live, seconds=float(config.deploy.scale_down_delay_seconds)),
        ),
        rollback=(),  # undoing an undo is a deploy
        policy=config.deploy,
        purpose="rollback",
        platform=where.name,
    )
    lock = ledger.acquire(environment, f"{actor} rolling back {service.name}")
    try:
        return Executor(instant, target, ledger, actor=actor).run()
    finally:
        ledger.release(lock)


class PreviousColorGone(CheckFailed):
    """The color to flip back to has been stopped: only a redeploy can roll back now."""


def rollback(
    sources: StackSources,
    environment: str,
    service_name: str | None,
    ledger: Ledger,
    to: str | None = None,
    actor: str = "shipyard",
    on_step: StepListener | None = None,
    platform: Platform | None = None,
    if_live: str | None = None,
) -> Outcome:
    """Instantly while the previous color is warm; otherwise (or with `to`) redeploy the
    earlier release through the normal blue-green path. With `if_live`, only when that
    version is what the service runs live, or is the rollout that was interrupted (CI's
    on-failure step: a deploy that already rolled itself back is left alone)."""
    if if_live is not None:
        unchanged = _not_live(sources, environment, service_name, ledger, if_live, platform)
        if unchanged is not None:
            return unchanged
    if to is None:
        try:
            return instant_rollback(sources, environment, service_name, ledger, actor, platform)
        except PreviousColorGone:
            config = load_stack(sources, environment).config
            service = choose_service(config, service_name, environment)
            to = previous_good_version(ledger, environment, service.name, sources)
            if to is None:
                raise
    # Its author is whoever wrote that version (the ledger knows, when it went anywhere
    # before), never the person rolling back: the gate keeps the author's approval out.
    options = DeployOptions(environment, to, service_name, actor=actor, purpose="rollback")
    return deploy(sources, options, ledger, on_step=on_step, platform=platform)


def _not_live(
    sources: StackSources,
    environment: str,
    service_name: str | None,
    ledger: Ledger,
    version: str,
    platform: Platform | None,
) -> Outcome | None:
    """An `unchanged` outcome when `version` is neither live nor being rolled out."""
    unfinished = unfinished_rollout(ledger, environment)
    if unfinished is not None and unfinished.plan.release.version == version:
        return None
    config = load_stack(sources, environment).config
    service = choose_service(config, service_name, environment)
    where = on_platform(platform, sources, environment, ledger)
    live = where.live(service, start=False)
    running = where.target(service, start=False).fleet.versions()[live]
    if running == version and unfinished is None:
        return None
    return Outcome(
        "unchanged",
        "",
        f"{service.name}@{version} is not live in {environment} ({running} is): nothing to "
        "roll back",
        0.0,
    )


def previous_good_version(
    ledger: Ledger, environment: str, service: str, sources: StackSources
) -> str | None:
    """The version that was live before the last successful release of this service."""
    events = ledger.events(environment)
    releases = {e.rollout: e.data for e in events if e.kind == "release"}
    for event in reversed(events):
        release = releases.get(event.rollout)
        if (
            event.kind == "outcome"
            and event.data.get("status") == "succeeded"
            and release is not None
            and release["service"] == service
        ):
            previous = release.get("previous_version")
            return str(previous) if previous else None
    return None


def resume(
    sources: StackSources,
    environment: str,
    ledger: Ledger,
    actor: str = "shipyard",
    on_step: StepListener | None = None,
    platform: Platform | None = None,
) -> Outcome:
    """Carry an unfinished rollout on from the step it was in (steps are idempotent); a
    paused one from the traffic step whose analysis was inconclusive."""
    nothing = UsageError(f"{environment} has no unfinished rollout to resume")
    if unfinished_rollout(ledger, environment) is None:
        raise nothing  # read before the lock: a refusal writes nothing, not even a ledger
    lock = ledger.acquire(environment, f"{actor} resuming a rollout")
    try:
        unfinished = unfinished_rollout(ledger, environment)
        if unfinished is None:
            raise nothing
        plan = unfinished.plan
        config = load_stack(sources, environment).config
        service = choose_service(config, plan.release.service, environment)
        target = on_platform(platform, sources, environment, ledger, plan).target(service)
        executor = Executor(
            plan, target, ledger, actor=actor, rollout=unfinished.rollout, on_step=on_step
        )
        start_at = unfinished.resume_at
        if target.fleet.versions().get(plan.new) != plan.release.version:
            start_at = 0  # its new color was restarted without it (HAProxy died): prepare again
        return executor.run(start_at=start_at)
    finally:
        ledger.release(lock)


def roll_back_unfinished(
    sources: StackSources,
    environment: str,
    ledger: Ledger,
    unfinished: Unfinished,
    actor: str = "shipyard",
    platform: Platform | None = None,
) -> Outcome:
    config = load_stack(sources, environment).config
    service = choose_service(config, unfinished.plan.release.service, environment)
    target = on_platform(platform, sources, environment, ledger, unfinished.plan).target(service)
    executor = Executor(unfinished.plan, target, ledger, actor=actor, rollout=unfinished.rollout)
    happened = "was interrupted" if unfinished.state is RolloutState.INTERRUPTED else None
    return executor.abort(
        f"rolled back by hand after the rollout {happened or unfinished.state.value}"
    )
