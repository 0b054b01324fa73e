"""`promote FROM TO`: the release live in FROM, through TO's gate, deployed to TO."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from parity.run import ParityOptions, run_parity
from parity.safe_text import visible
from rollout.deploy import DeployOptions, choose_service, deploy
from rollout.executor import Outcome, Platform, StepListener
from rollout.gates import ReleaseId, evaluate_gate, unvouched
from rollout.ledger import Ledger
from shipyard.config.load import PROMOTION_ORDER, StackSources, load_stack
from shipyard.config.model import Service, StackConfig
from shipyard.errors import CheckFailed, UsageError

# How many of parity's reasons a refused promotion names; `shipyard parity` lists them all.
PARITY_REASONS_SHOWN = 2


@dataclass(frozen=True)
class Live:
    release: ReleaseId
    author: str
    commit_time: str | None
    went_live: str


def live_release(ledger: Ledger, environment: str, service: str) -> Live | None:
    """The release that last went live in an environment and was not rolled back since."""
    events = ledger.events(environment)
    releases = {e.rollout: e for e in events if e.kind == "release"}
    for event in reversed(events):
        release = releases.get(event.rollout)
        if release is None or release.data.get("service") != service or event.kind != "outcome":
            continue
        if event.data.get("status") != "succeeded":
            continue
        data = release.data
        return Live(
            ReleaseId(service, data["version"], data.get("commit", "unknown")),
            data.get("author", "unknown"),
            data.get("commit_time"),
            event.at,
        )
    return None


def promote(
    sources: StackSources,
    source: str,
    target: str,
    service_name: str | None,
    ledger: Ledger,
    actor: str,
    min_parity: float | None = None,
    on_step: StepListener | None = None,
    platform: Platform | None = None,
) -> Outcome:
    config, service, live = _resolve(sources, source, target, service_name, ledger)
    if config.deploy.approvals.required:
        problem = unvouched(ledger, target, live.release, live.author, actor, _author_fix(source))
        if problem is not None:
            raise UsageError(problem)
    if min_parity is not None:
        check_parity(sources, source, target, min_parity)
    approvals = [
        e for e in ledger.events(target) if e.kind == "approval" and live.release.matches(e.data)
    ]
    options = DeployOptions(
        target,
        live.release.version,
        service.name,
        commit=live.release.commit,
        commit_time=live.commit_time,
        author=live.author,
        actor=actor,
    )
    started = dt.datetime.now(dt.UTC)
    outcome = deploy(sources, options, ledger, on_step=on_step, platform=platform)
    ledger.append(
        target,
        "promotion",
        {
            **live.release.to_dict(),
            "from": source,
            "to": target,
            "status": outcome.status,
            "lead_time_seconds": _seconds_since(live.commit_time, started),
            "approval_wait_seconds": _seconds_between(live.went_live, approvals[-1].at)
            if approvals
            else None,
        },
        actor=actor,
    )
    return outcome


def check_parity(sources: StackSources, source: str, target: str, min_parity: float) -> None:
    """Refuse, before anything changes, a promotion between two stacks that parity fails.

    The gate is parity's own verdict on the two environments with `min_parity` as the minimum
    (in place of minScore in stacks/parity.yaml): it refuses an undeclared or missing
    difference on a critical path (prod reading staging's secret, TLS removed, another image
    repository, a hand-edited Pulumi.<env>.yaml), a catch-all rule, and a pair score below
    `min_parity`, however high the score. Like an unmet approval gate, a refusal is exit 1
    and nothing is deployed or recorded."""
    report = run_parity(sources, ParityOptions(environments=[source, target], min_score=min_parity))
    pairs = report.comparison.pairs
    pair = pairs.get((source, target)) or pairs.get((target, source))
    score = pair.score if pair else None
    reasons = list(report.failures)
    if score is None or score < min_parity:
        below = (
            f"parity {score:.2f}% is below the minimum {min_parity:g}%"
            if score is not None
            else "no paths to compare: parity is n/a"
        )
        if below not in reasons:
            reasons.insert(0, below)
    if not reasons:
        return
    shown = "; ".join(visible(reason) for reason in reasons[:PARITY_REASONS_SHOWN])
    more = len(reasons) - PARITY_REASONS_SHOWN
    scored = "n/a" if score is None else f"{score:.2f}%"
    raise CheckFailed(
        f"parity between {source} and {target} fails (score {scored}, minimum "
        f"{min_parity:g}%): {shown}{f' (and {more} more)' if more > 0 else ''}; nothing was "
        f"deployed: run `shipyard parity {source} {target} --min-score {min_parity:g}` for "
        "the whole report"
    )


def _resolve(
    sources: StackSources, source: str, target: str, service_name: str | None, ledger: Ledger
) -> tuple[StackConfig, Service, Live]:
    """The target's config and service, and the release live in the source."""
    for env in (source, target):
        sources.require_environment(env)
    order = [env for env in PROMOTION_ORDER if env in sources.environments()]
    if source not in order or target not in order or order.index(target) != order.index(source) + 1:
        path = " -> ".join(order)
        raise UsageError(f"promotion goes {path}, one step at a time: not {source} -> {target}")
    config = load_stack(sources, target).config
    service = choose_service(config, service_name, target)
    live = live_release(ledger, source, service.name)
    if live is None:
        raise CheckFailed(
            f"no release of {service.name} has succeeded in {source}: deploy there first"
        )
    return config, service, live


def promotion_preview(
    sources: StackSources,
    source: str,
    target: str,
    service_name: str | None,
    ledger: Ledger,
    actor: str,
) -> dict[str, Any]:
    """What `promote` would take and whether TO's gate lets it in now; changes nothing."""
    config, service, live = _resolve(sources, source, target, service_name, ledger)
    policy = config.deploy.approvals
    gate = evaluate_gate(
        ledger, target, live.release, policy, live.author, actor, author_fix=_author_fix(source)
    )
    return {
        "from": source,
        "to": target,
        "release": live.release.key,
        "author": live.author,
        "gate": {
            "required": policy.required,
            "counted": gate.counted,
            "satisfied": gate.satisfied,
            "explanation": "" if gate.satisfied else gate.explain(),
        },
    }


def _author_fix(source: str) -> str:
    """What to do when the release's author is unknown: promote has no --author."""
    return (
        f"promote takes the author recorded when the release went into {source}: redeploy it "
        f"to {source} with --author WHO (its commit's author), then promote again"
    )


def _seconds_since(then: str | None, now: dt.datetime) -> float | None:
    if not then:
        return None
    try:
        moment = dt.datetime.fromisoformat(then.replace("Z", "+00:00"))
    except ValueError:
        return None
    return round((now - moment).total_seconds(), 3)


def _seconds_between(start: str, end: str) -> float:
    return round(
        (dt.datetime.fromisoformat(end) - dt.datetime.fromisoformat(start)).total_seconds(), 3
    )
