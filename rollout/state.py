"""A rollout's state, derived from its ledger events: never stored twice."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from rollout.ledger import Event, Ledger
from rollout.plan import Plan
from shipyard.config.model import Color


class RolloutState(StrEnum):
    PREPARING = "preparing"
    SHIFTING = "shifting"
    FINALISING = "finalising"
    ROLLING_BACK = "rolling-back"
    INTERRUPTED = "interrupted"  # no outcome and nobody holds the lock: resume or roll back
    SUCCEEDED = "succeeded"
    ROLLED_BACK = "rolled-back"
    PAUSED = "paused"  # analysis inconclusive: a human resumes or rolls back
    FAILED = "failed"  # the platform failed and traffic could not be moved back: roll back

    @property
    def terminal(self) -> bool:
        return self in TERMINAL

    @property
    def unfinished(self) -> bool:
        """Waiting for a human: `deploy --resume` carries it on, `rollback` undoes it."""
        return self in UNFINISHED


TERMINAL = frozenset({RolloutState.SUCCEEDED, RolloutState.ROLLED_BACK})
# Outcomes that end a run of the executor but not the rollout.
RESTING = frozenset({RolloutState.PAUSED, RolloutState.FAILED})
UNFINISHED = RESTING | {RolloutState.INTERRUPTED}
PHASES = {
    "prepare": RolloutState.PREPARING,
    "await-healthy": RolloutState.PREPARING,
    "smoke": RolloutState.PREPARING,
    "shift": RolloutState.SHIFTING,
    "bake": RolloutState.SHIFTING,
    "analyse": RolloutState.SHIFTING,
    "finalise": RolloutState.FINALISING,
}


@dataclass(frozen=True)
class RolloutSummary:
    rollout: str
    service: str
    version: str
    started: str
    state: RolloutState
    message: str | None
    last_step: int | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rollout": self.rollout,
            "service": self.service,
            "version": self.version,
            "started": self.started,
            "state": self.state.value,
            "terminal": self.state.terminal,
            "message": self.message,
            "last_step": self.last_step,
        }


def derive_state(events: list[Event], lock_held: bool) -> RolloutState:
    """The state after these events (one rollout's, in order). A paused or failed rollout
    rests until someone resumes it (`resumed`) or undoes it (`rollback-started`)."""
    state = RolloutState.PREPARING
    for event in events:
        if event.kind == "step-started":
            state = PHASES.get(event.data["step"]["kind"], state)
        elif event.kind == "rollback-started":
            state = RolloutState.ROLLING_BACK
        elif event.kind == "resumed":
            state = RolloutState.PREPARING  # until its first step starts
        elif event.kind == "outcome":
            state = RolloutState(event.data["status"])
            if state.terminal:
                return state
    if state in RESTING or lock_held:
        return state
    return RolloutState.INTERRUPTED


def last_outcome(events: list[Event]) -> Event | None:
    """A rollout's latest outcome: a paused one that was resumed has had several."""
    return next((e for e in reversed(events) if e.kind == "outcome"), None)


def rollouts_of(events: list[Event], lock_held: bool) -> list[RolloutSummary]:
    """Every rollout in an environment's events, oldest first."""
    by_rollout = _by_rollout(events)
    summaries = []
    for index, (rollout, group) in enumerate(by_rollout.items()):
        release = next((e for e in group if e.kind == "release"), None)
        if release is None:
            continue
        outcome = last_outcome(group)
        started = [e.data["index"] for e in group if e.kind == "step-started"]
        latest = index == len(by_rollout) - 1
        state = derive_state(group, lock_held and latest)
        message = outcome.data.get("message") if outcome else None
        if state is RolloutState.INTERRUPTED and rollback_began(group):
            message = (
                "its rollback started and did not finish: undo it with `shipyard rollback "
                f"{release.data['environment']}` (it cannot be resumed)"
            )
        summaries.append(
            RolloutSummary(
                rollout=rollout,
                service=release.data["service"],
                version=release.data["version"],
                started=release.at,
                state=state,
                message=message,
                last_step=max(started) if started else None,
            )
        )
    return summaries


def rollback_began(group: list[Event]) -> bool:
    """Whether the rollout started rolling back (then it is never resumed, so no `resumed`
    can follow: undone only, by `shipyard rollback ENV`)."""
    return any(e.kind == "rollback-started" for e in group)


@dataclass(frozen=True)
class LastRollout:
    """A service's latest rollout: what it rolled out, and where it ended."""

    version: str
    state: RolloutState
    undid: str | None  # a rollback's: the version it took off traffic

    @property
    def rolled_back(self) -> str | None:
        """The version already rolled back, when this rollout was undone or was an undo."""
        if self.undid is not None:
            return self.undid
        return self.version if self.state is RolloutState.ROLLED_BACK else None


def last_rollout(events: list[Event], service: str) -> LastRollout | None:
    """The service's latest rollout in one environment's events, if it has one."""
    groups = [g for g in _by_rollout(events).values() if _release(g, service) is not None]
    if not groups:
        return None
    data = _release(groups[-1], service) or {}
    undid = (data.get("previous_version") or "?") if data.get("purpose") == "rollback" else None
    return LastRollout(data["version"], derive_state(groups[-1], lock_held=False), undid)


def _release(group: list[Event], service: str) -> dict[str, Any] | None:
    release = next((e for e in group if e.kind == "release"), None)
    return release.data if release is not None and release.data["service"] == service else None


@dataclass(frozen=True)
class LiveService:
    """What the ledger says one service runs: the live color, each color's version, and the
    idle color when `scale-down` retired it (it runs nothing until the next rollout)."""

    color: Color
    versions: dict[Color, str | None]
    retired: Color | None = None


def live_services(events: list[Event], platform: str = "local") -> dict[str, LiveService]:
    """Per service, what its rollouts on `platform` left live (one environment's events, in
    order). A rollout that did not succeed (rolled back, or still unfinished) leaves its
    stable color live at the version it had, and its new color as it was before: a version
    that never passed its checks is never what a restart brings back. A `scaled-down` color
    stays retired until a rollout puts it live again."""
    live: dict[str, LiveService] = {}
    groups = _by_rollout(events)
    for event in events:
        if event.kind == "scaled-down" and event.data.get("service") in live:
            now = live[event.data["service"]]
            color = Color(event.data["color"])
            if color is not now.color:
                live[event.data["service"]] = LiveService(now.color, now.versions, color)
            continue
        group = groups.get(event.rollout or "", [])
        release = event if event.kind == "release" else None
        if release is None or release.data.get("platform", "local") != platform:
            continue
        data = release.data
        stable, new = Color(data["stable"]), Color(data["new"])
        before = live.get(data["service"])
        versions: dict[Color, str | None] = dict(before.versions) if before else {}
        versions.setdefault(stable, None)
        versions.setdefault(new, None)
        versions[stable] = data.get("previous_version") or versions[stable]
        color = stable
        if derive_state(group, lock_held=False) is RolloutState.SUCCEEDED:
            versions[new], color = data["version"], new
        retired = before.retired if before is not None and before.retired is not color else None
        live[data["service"]] = LiveService(color, versions, retired)
    return live


def _by_rollout(events: list[Event]) -> dict[str, list[Event]]:
    by_rollout: dict[str, list[Event]] = {}
    for event in events:
        if event.rollout:
            by_rollout.setdefault(event.rollout, []).append(event)
    return by_rollout


@dataclass(frozen=True)
class Unfinished:
    rollout: str
    plan: Plan
    resume_at: int
    state: RolloutState  # interrupted, paused or failed

    def describe(self) -> str:
        """`an interrupted rollout of web@v2#abc (at step 4 of 10)`, for messages."""
        article = "an" if self.state is RolloutState.INTERRUPTED else "a"
        return (
            f"{article} {self.state} rollout of {self.plan.release.key} "
            f"(at step {self.resume_at + 1} of {len(self.plan.steps)})"
        )


def unfinished_rollout(ledger: Ledger, environment: str) -> Unfinished | None:
    """The environment's latest rollout if it has not ended: its process died (interrupted),
    its analysis stayed inconclusive (paused), or the platform failed under it (failed).
    The caller holds the environment's lock, so a rollout without an outcome is dead."""
    events = ledger.events(environment)
    rollouts = [e.rollout for e in events if e.kind == "release" and e.rollout]
    if not rollouts:
        return None
    latest = rollouts[-1]
    mine = [e for e in events if e.rollout == latest]
    state = derive_state(mine, lock_held=False)
    if not state.unfinished:
        return None
    plan = Plan.from_dict(next(e for e in mine if e.kind == "release").data)
    started = [e.data["index"] for e in mine if e.kind == "step-started"]
    index = max(started) if started else 0
    # Re-running a bake or analysis needs the window its shift opened: start at that shift.
    while index > 0 and plan.steps[index].kind in ("bake", "analyse"):
        index -= 1
    return Unfinished(latest, plan, index, state)
