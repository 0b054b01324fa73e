"""DORA metrics computed only from the ledger's events.

Definitions (docs/delivery.md):

- a *deploy* is a rollout whose purpose is `deploy` and that reached an outcome; it
  *succeeded*, or *failed* (rolled back by its own checks);
- deployment frequency: successful deploys per day over the window, and deploy-days per week;
- lead time for changes: the release's commit time -> its successful outcome; p50 and p90;
  values <= 0 or without a commit time are dropped (as Four Keys does);
- change failure rate: deploys that needed intervention (failed and rolled back by their own
  checks, or succeeded and were rolled back later by hand, or, with `fix_within_hours`, were
  followed by another deploy of the same service within that many hours) over all deploys;
- time to restore: a failure -> traffic back on a good release: for a failed deploy, its
  first failed check -> its rollback finished; for a deploy rolled back by hand, its success
  -> the rollback's outcome; p50;
- deployment success rate: succeeded / deploys; mean time to deploy: release -> outcome,
  with the approval wait (first approval -> gate passed) reported apart.

Levels use the 2024 State of DevOps report (the 2025 report replaced them with team
profiles): frequency elite = on demand (>= 1 a day), high >= weekly, medium >= monthly;
lead time elite < 1 day, high < 1 week, medium < 1 month; change failure rate elite <= 5%,
high <= 20%; recovery elite < 1 hour, high < 1 day. Beyond the quoted boundaries a metric
is reported as "medium or low".
"""

from __future__ import annotations

import bisect
import datetime as dt
import statistics
from collections import defaultdict
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from rollout.ledger import Event
from rollout.state import last_outcome

REPORT_YEAR = 2024
HOUR = 3600.0


@dataclass(frozen=True)
class Deploy:
    rollout: str
    environment: str
    service: str
    version: str
    started: dt.datetime
    finished: dt.datetime
    status: str  # succeeded | rolled-back | paused
    commit_time: dt.datetime | None
    first_failure: dt.datetime | None
    rollback_finished: dt.datetime | None
    rolled_back_later_at: dt.datetime | None = None

    @property
    def failed(self) -> bool:
        return self.status in ("rolled-back", "failed") or self.rolled_back_later_at is not None


@dataclass
class Metrics:
    year: int
    since: str
    until: str
    environments: list[str]
    deploys: int
    succeeded: int
    failed: int
    per_day: float
    deploy_days_per_week: float
    lead_time_p50_hours: float | None
    lead_time_p90_hours: float | None
    change_failure_rate: float | None
    restore_p50_minutes: float | None
    success_rate: float | None
    mean_time_to_deploy_seconds: float | None
    approval_wait_p50_hours: float | None
    levels: dict[str, str] = field(default_factory=dict)
    daily: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def deploys_from(events: list[Event]) -> list[Deploy]:
    """Every finished deploy, with later hand rollbacks attached to the deploy they undid."""
    by_rollout: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        if event.rollout:
            by_rollout[event.rollout].append(event)
    deploys: list[Deploy] = []
    rollbacks: list[tuple[str, str, dt.datetime]] = []  # env, service, when
    for rollout, group in by_rollout.items():
        release = next((e for e in group if e.kind == "release"), None)
        outcome = last_outcome(group)  # a paused rollout resumed has had two
        if release is None or outcome is None:
            continue
        data = release.data
        finished = _time(outcome.at)
        assert finished is not None
        if data.get("purpose", "deploy") == "rollback":
            if outcome.data.get("status") == "succeeded":
                rollbacks.append((release.environment, data["service"], finished))
            continue
        failure = next((e for e in group if e.kind == "check-failed"), None)
        restored = next((e for e in group if e.kind == "rollback-finished"), None)
        deploys.append(
            Deploy(
                rollout=rollout,
                environment=release.environment,
                service=data["service"],
                version=data["version"],
                started=_time(release.at) or finished,
                finished=finished,
                status=str(outcome.data.get("status")),
                commit_time=_time(data.get("commit_time")),
                first_failure=_time(failure.at) if failure else None,
                rollback_finished=_time(restored.at) if restored else None,
            )
        )
    deploys.sort(key=lambda d: d.finished)
    for env, service, when in rollbacks:
        undone = [
            d
            for d in deploys
            if d.environment == env
            and d.service == service
            and d.status == "succeeded"
            and d.finished <= when
        ]
        if undone:
            last = undone[-1]
            deploys[deploys.index(last)] = replace(last, rolled_back_later_at=when)
    return deploys


def compute(
    events: list[Event],
    *,
    environments: list[str] | None = None,
    service: str | None = None,
    since_days: float = 30,
    now: dt.datetime | None = None,
    fix_within_hours: float | None = None,
) -> Metrics:
    now = now or dt.datetime.now(dt.UTC)
    start = now - dt.timedelta(days=since_days)
    chosen = [
        d
        for d in deploys_from(events)
        if start <= d.finished <= now
        and (not environments or d.environment in environments)
        and (service is None or d.service == service)
    ]
    finished = [d for d in chosen if d.status in ("succeeded", "rolled-back", "failed")]
    succeeded = [d for d in finished if d.status == "succeeded"]
    fixed = _followed_by_a_fix(succeeded, fix_within_hours)
    failed = [d for d in finished if d.failed or d.rollout in fixed]
    lead = [
        (d.finished - d.commit_time).total_seconds() / HOUR
        for d in succeeded
        if d.commit_time is not None
    ]
    lead = [v for v in lead if v > 0]
    restores = []
    successes: dict[tuple[str, str], list[dt.datetime]] = defaultdict(list)
    for deploy in succeeded:  # already in time order
        successes[(deploy.environment, deploy.service)].append(deploy.finished)
    for deploy in failed:
        if deploy.status == "rolled-back" and deploy.first_failure and deploy.rollback_finished:
            restores.append((deploy.rollback_finished - deploy.first_failure).total_seconds())
        elif deploy.rolled_back_later_at is not None:
            restores.append((deploy.rolled_back_later_at - deploy.finished).total_seconds())
        else:  # failed outright: restored when the next deploy of the service succeeded
            later = successes[(deploy.environment, deploy.service)]
            index = bisect.bisect_right(later, deploy.finished)
            if index < len(later):
                restores.append((later[index] - deploy.finished).total_seconds())
    days = max(since_days, 1e-9)
    deploy_days = {d.finished.date() for d in succeeded}
    waits = _approval_waits(events, environments, start, now)
    metrics = Metrics(
        year=REPORT_YEAR,
        since=start.isoformat(timespec="seconds"),
        until=now.isoformat(timespec="seconds"),
        environments=sorted({d.environment for d in chosen}),
        deploys=len(finished),
        succeeded=len(succeeded),
        failed=len(failed),
        per_day=round(len(succeeded) / days, 3),
        deploy_days_per_week=round(len(deploy_days) / (days / 7), 3),
        lead_time_p50_hours=_round(_percentile(lead, 50)),
        lead_time_p90_hours=_round(_percentile(lead, 90)),
        change_failure_rate=_round(len(failed) / len(finished)) if finished else None,
        restore_p50_minutes=_round(statistics.median(restores) / 60) if restores else None,
        success_rate=_round(len(succeeded) / len(finished)) if finished else None,
        mean_time_to_deploy_seconds=_round(
            statistics.fmean([(d.finished - d.started).total_seconds() for d in finished])
        )
        if finished
        else None,
        approval_wait_p50_hours=_round(statistics.median(waits) / HOUR) if waits else None,
        daily=_daily(finished),
    )
    metrics.levels = levels(metrics)
    return metrics


def _followed_by_a_fix(succeeded: list[Deploy], hours: float | None) -> set[str]:
    """Successful deploys that another successful deploy of the same service followed within
    `hours`: the later one is taken as the fix (off unless asked for)."""
    if not hours:
        return set()
    window = dt.timedelta(hours=hours)
    fixed = set()
    last: dict[tuple[str, str], Deploy] = {}
    for deploy in succeeded:
        key = (deploy.environment, deploy.service)
        previous = last.get(key)
        if previous is not None and deploy.finished - previous.finished <= window:
            fixed.add(previous.rollout)
        last[key] = deploy
    return fixed


def levels(metrics: Metrics) -> dict[str, str]:
    """Each metric's 2024 DORA level (see the module docstring for the boundaries)."""
    result = {}
    per_day = metrics.per_day
    result["deployment_frequency"] = (
        "elite"
        if per_day >= 1
        else "high"
        if per_day >= 1 / 7
        else "medium"
        if per_day >= 1 / 30
        else "low"
    )
    lead = metrics.lead_time_p50_hours
    if lead is not None:
        result["lead_time"] = (
            "elite" if lead < 24 else "high" if lead < 168 else "medium" if lead < 720 else "low"
        )
    rate = metrics.change_failure_rate
    if rate is not None:
        result["change_failure_rate"] = (
            "elite" if rate <= 0.05 else "high" if rate <= 0.20 else "medium or low"
        )
    restore = metrics.restore_p50_minutes
    if restore is not None:
        result["time_to_restore"] = (
            "elite" if restore < 60 else "high" if restore < 1440 else "medium or low"
        )
    return result


def _approval_waits(
    events: list[Event], environments: list[str] | None, start: dt.datetime, now: dt.datetime
) -> list[float]:
    waits = []
    for gate in (e for e in events if e.kind == "gate-passed"):
        if environments and gate.environment not in environments:
            continue
        passed = _time(gate.at)
        if passed is None or not start <= passed <= now:
            continue
        key = (gate.data.get("service"), gate.data.get("version"), gate.data.get("commit"))
        approvals = [
            _time(e.at)
            for e in events
            if e.kind == "approval"
            and e.environment == gate.environment
            and (e.data.get("service"), e.data.get("version"), e.data.get("commit")) == key
        ]
        firsts = [a for a in approvals if a is not None and a <= passed]
        if firsts:
            waits.append((passed - min(firsts)).total_seconds())
    return waits


def _daily(deploys: list[Deploy]) -> list[dict[str, Any]]:
    days: dict[str, dict[str, int]] = defaultdict(lambda: {"deploys": 0, "failures": 0})
    for deploy in deploys:
        day = days[deploy.finished.date().isoformat()]
        day["deploys"] += 1
        day["failures"] += int(deploy.failed)
    return [{"day": day, **counts} for day, counts in sorted(days.items())]


def _percentile(values: list[float], percent: float) -> float | None:
    """Nearest-rank percentile: a value that actually happened."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * percent // 100))  # ceil
    return ordered[int(rank) - 1]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
