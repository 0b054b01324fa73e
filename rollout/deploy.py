"""`deploy` and `rollback` as library calls: the CLI is one way in."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rollout.executor import Executor, Outcome
from rollout.ledger import SqliteLedger
from rollout.plan import Plan, Release, Step, build_plan
from rollout.platforms.local.platform import local_up
from rollout.platforms.local.state import LocalState
from rollout.platforms.local.target import local_target
from shipyard.config.load import StackSources, load_stack
from shipyard.config.model import Service, StackConfig
from shipyard.errors import CheckFailed, UsageError
from smoke import load_spec


@dataclass(frozen=True)
class DeployOptions:
    environment: str
    version: str
    service: str | None = None
    commit: str = "unknown"
    commit_time: str | None = None
    author: str = "unknown"
    actor: str = "shipyard"


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


def running_state(sources: StackSources, env: str) -> LocalState:
    """The local environment, started when it is not running yet."""
    return local_up(sources, env).state


def deploy(
    sources: StackSources,
    options: DeployOptions,
    ledger: SqliteLedger,
    on_step: Callable[[int, Step, str], None] | None = None,
) -> Outcome:
    """Put a version live on the idle color of one service, or roll back trying."""
    config = load_stack(sources, options.environment).config
    service = choose_service(config, options.service, options.environment)
    state = running_state(sources, options.environment)
    service_state = state.service(service.name)
    stable = service_state.active_color
    previous = next((s.version for s in service_state.slots(stable)), None)
    release = Release(
        service.name, options.version, options.commit, options.commit_time, options.author
    )
    plan = build_plan(options.environment, release, config.deploy, stable, previous)
    lock = ledger.acquire(options.environment, f"{options.actor} deploying {release.key}")
    try:
        target = local_target(state, service, sources.root, load_spec())
        executor = Executor(plan, target, ledger, actor=options.actor, on_step=on_step)
        return executor.run()
    finally:
        ledger.release(lock)


def instant_rollback(
    sources: StackSources,
    environment: str,
    service_name: str | None,
    ledger: SqliteLedger,
    actor: str = "shipyard",
) -> Outcome:
    """While the previous color is warm, send all traffic back to it."""
    config = load_stack(sources, environment).config
    service = choose_service(config, service_name, environment)
    state = LocalState.load(sources.root, environment)
    if state is None:
        raise UsageError(f"{environment} is not running locally: nothing to roll back")
    service_state = state.service(service.name)
    live, previous = service_state.active_color, service_state.active_color.other
    target = local_target(state, service, sources.root, load_spec())
    versions = target.fleet.versions()
    if versions.get(previous) is None:
        raise CheckFailed(
            f"the previous color ({previous}) of {service.name} is no longer running: "
            f"redeploy the earlier version with `shipyard deploy {environment} --version V`"
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
    )
    lock = ledger.acquire(environment, f"{actor} rolling back {service.name}")
    try:
        return Executor(instant, target, ledger, actor=actor).run()
    finally:
        ledger.release(lock)


def project_ledger_path(root: Path) -> Path:
    override = os.environ.get("SHIPYARD_LEDGER")
    return Path(override) if override else root / ".shipyard" / "ledger.db"
