"""`deploy` and `rollback` as library calls: the CLI is one way in."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from rollout.executor import Executor, Outcome, Platform, StepListener
from rollout.gates import ReleaseId, evaluate_gate, image_tag, unvouched
from rollout.ledger import Ledger, require_verified
from rollout.notify import Notifier
from rollout.people import UNKNOWN
from rollout.plan import Plan, Release, build_plan
from rollout.platforms.local.target import LocalPlatform
from rollout.readiness import ready_timeout
from rollout.state import (
    RolloutState,
    rollouts_of,
    unfinished_rollout,
)
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
    where = on_platform(platform, sources, options.environment, ledger)
    where.preflight(service, config.deploy)  # before the gate records or the webhook tells
    try:
        check_gate(ledger, options.environment, config, service.name, options)
    except CheckFailed as refused:
        notifier.send(
            "approval-needed", str(refused), service=service.name, version=options.version
        )
        raise
    stable = where.live(service)
    target = where.target(service)
    previous = target.fleet.versions()[stable]
    release = Release(
        service.name, options.version, options.commit, options.commit_time, options.author
    )
    ready = ready_timeout(config.deploy, service, where.name)
    plan = build_plan(options.environment, release, config.deploy, stable, previous, ready)
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
    result = evaluate_gate(
        ledger, environment, release, policy, options.author, options.actor, verified=True
    )
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
