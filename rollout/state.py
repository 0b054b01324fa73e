"""A rollout's state, derived from its ledger events: never stored twice."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from rollout.ledger import Event


class RolloutState(StrEnum):
    PREPARING = "preparing"
    SHIFTING = "shifting"
    FINALISING = "finalising"
    ROLLING_BACK = "rolling-back"
    INTERRUPTED = "interrupted"  # no outcome and nobody holds the lock: resume or roll back
    SUCCEEDED = "succeeded"
    ROLLED_BACK = "rolled-back"
    PAUSED = "paused"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({RolloutState.SUCCEEDED, RolloutState.ROLLED_BACK})
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
    """The state after these events (one rollout's, in order)."""
    state = RolloutState.PREPARING
    for event in events:
        if event.kind == "step-started":
            state = PHASES.get(event.data["step"]["kind"], state)
        elif event.kind == "rollback-started":
            state = RolloutState.ROLLING_BACK
        elif event.kind == "outcome":
            return RolloutState(event.data["status"])
    return state if lock_held else RolloutState.INTERRUPTED


def rollouts_of(events: list[Event], lock_held: bool) -> list[RolloutSummary]:
    """Every rollout in an environment's events, oldest first."""
    by_rollout: dict[str, list[Event]] = {}
    for event in events:
        if event.rollout:
            by_rollout.setdefault(event.rollout, []).append(event)
    summaries = []
    for index, (rollout, group) in enumerate(by_rollout.items()):
        release = next((e for e in group if e.kind == "release"), None)
        if release is None:
            continue
        outcome = next((e for e in group if e.kind == "outcome"), None)
        started = [e.data["index"] for e in group if e.kind == "step-started"]
        latest = index == len(by_rollout) - 1
        summaries.append(
            RolloutSummary(
                rollout=rollout,
                service=release.data["service"],
                version=release.data["version"],
                started=release.at,
                state=derive_state(group, lock_held and latest),
                message=outcome.data.get("message") if outcome else None,
                last_step=max(started) if started else None,
            )
        )
    return summaries
