"""`rollback` and `deploy --resume` as library calls: undoing a rollout, or carrying an
unfinished one on."""

from __future__ import annotations

from rollout.deploy import DeployOptions, choose_service, deploy, on_platform
from rollout.executor import Executor, Outcome, Platform, StepListener
from rollout.ledger import Ledger
from rollout.plan import Plan, Release, Step
from rollout.state import RolloutState, Unfinished, last_rollout, unfinished_rollout
from shipyard.config.load import StackSources, load_stack
from shipyard.errors import CheckFailed, UsageError


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
    require_something_to_undo(ledger, environment, service.name)
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


class NothingToRollBack(CheckFailed):
    """The service's last rollout was already undone, or it has none: `--to V` goes back."""


def require_something_to_undo(ledger: Ledger, environment: str, service: str) -> None:
    """A plain rollback undoes the service's last rollout, when it succeeded; one that was
    rolled back (automatically or by hand), or a rollback itself, leaves nothing to undo:
    doing it again would toggle, or redeploy an even older version unasked."""
    further = f"to go further back: `shipyard rollback {environment} --service {service} --to V`"
    last = last_rollout(ledger.events(environment), service)
    if last is None:
        raise NothingToRollBack(
            f"nothing to roll back: {service} has no rollout in the {environment} ledger; {further}"
        )
    if last.rolled_back is not None:
        raise NothingToRollBack(
            f"nothing to roll back: {service}'s last rollout ({last.rolled_back}) was "
            f"already rolled back; {further}"
        )


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
            to = previous_good_version(ledger, environment, service.name)
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


def previous_good_version(ledger: Ledger, environment: str, service: str) -> str | None:
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
    service_name: str | None = None,
) -> Outcome:
    """Carry an unfinished rollout on from the step it was in (steps are idempotent); a
    paused one from the traffic step whose analysis was inconclusive. With `service_name`,
    only when the unfinished rollout is that service's."""
    nothing = UsageError(f"{environment} has no unfinished rollout to resume")
    found = unfinished_rollout(ledger, environment)
    if found is None:
        raise nothing  # read before the lock: a refusal writes nothing, not even a ledger
    _require_service(found, environment, service_name)
    lock = ledger.acquire(environment, f"{actor} resuming a rollout")
    try:
        unfinished = unfinished_rollout(ledger, environment)
        if unfinished is None:
            raise nothing
        _require_service(unfinished, environment, service_name)
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


def _require_service(unfinished: Unfinished, environment: str, service: str | None) -> None:
    """`--resume --service api` while web's rollout is unfinished would carry web on."""
    stuck = unfinished.plan.release.service
    if service is not None and service != stuck:
        raise CheckFailed(
            f"{environment} has {unfinished.describe()}, not one of {service}: carry it on "
            f"with `shipyard deploy {environment} --resume --service {stuck}` or undo it "
            f"with `shipyard rollback {environment} --service {stuck}`"
        )


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
