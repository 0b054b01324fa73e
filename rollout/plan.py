"""Plans are data: a release and a deploy policy become an immutable list of steps.

    prepare idle color at V -> await healthy -> smoke on the test port
    -> for each traffic step: shift, bake, analyse -> finalise

Any failure rolls back: all traffic to the stable color first, then stop the bad color.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from rollout.readiness import LOCAL_READY_TIMEOUT
from shipyard.config.model import Color, Deploy


@dataclass(frozen=True)
class Release:
    service: str
    version: str
    commit: str = "unknown"
    commit_time: str | None = None  # ISO 8601
    author: str = "unknown"

    @property
    def key(self) -> str:
        return f"{self.service}@{self.version}#{self.commit[:12]}"


@dataclass(frozen=True)
class Step:
    """One thing the executor does; `kind` names it in the ledger and on screen."""

    kind: str
    color: Color | None = None
    version: str | None = None
    weights: tuple[tuple[Color, int], ...] = ()
    seconds: float = 0.0

    def weight_map(self) -> dict[Color, int]:
        return dict(self.weights)

    def describe(self) -> str:
        if self.kind == "shift":
            return "shift " + " / ".join(f"{c.value} {w}%" for c, w in self.weights)
        if self.kind in ("bake", "await-healthy"):
            return f"{self.kind} {self.seconds:g} s" + (f" ({self.color})" if self.color else "")
        parts = [self.kind, self.color.value if self.color else None, self.version]
        return " ".join(p for p in parts if p)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["color"] = self.color.value if self.color else None
        data["weights"] = {c.value: w for c, w in self.weights}
        return {k: v for k, v in data.items() if v not in (None, {}, 0.0) or k == "kind"}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Step:
        return cls(
            kind=data["kind"],
            color=Color(data["color"]) if data.get("color") else None,
            version=data.get("version"),
            weights=tuple((Color(c), int(w)) for c, w in (data.get("weights") or {}).items()),
            seconds=float(data.get("seconds", 0.0)),
        )


def shift(stable: Color, new: Color, percent: int) -> Step:
    return Step("shift", weights=((new, percent), (stable, 100 - percent)))


@dataclass(frozen=True)
class Plan:
    environment: str
    release: Release
    stable: Color
    new: Color
    previous_version: str | None
    steps: tuple[Step, ...]
    rollback: tuple[Step, ...]
    policy: Deploy = field(compare=False)
    purpose: str = "deploy"  # deploy | rollback (metrics tell changes from restores)
    platform: str = "local"  # local | aws: where resume and rollback must act

    def describe(self) -> list[str]:
        return [step.describe() for step in self.steps]

    def to_dict(self) -> dict[str, Any]:
        """Everything needed to rebuild the plan: the ledger's release event carries it."""
        return {
            "environment": self.environment,
            "service": self.release.service,
            "version": self.release.version,
            "commit": self.release.commit,
            "commit_time": self.release.commit_time,
            "author": self.release.author,
            "stable": self.stable.value,
            "new": self.new.value,
            "previous_version": self.previous_version,
            "steps": [s.to_dict() for s in self.steps],
            "rollback": [s.to_dict() for s in self.rollback],
            "policy": self.policy.model_dump(mode="json", by_alias=True),
            "purpose": self.purpose,
            "platform": self.platform,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        return cls(
            environment=data["environment"],
            release=Release(
                data["service"],
                data["version"],
                data.get("commit", "unknown"),
                data.get("commit_time"),
                data.get("author", "unknown"),
            ),
            stable=Color(data["stable"]),
            new=Color(data["new"]),
            previous_version=data.get("previous_version"),
            steps=tuple(Step.from_dict(s) for s in data["steps"]),
            rollback=tuple(Step.from_dict(s) for s in data["rollback"]),
            policy=Deploy.model_validate(data["policy"]),
            purpose=data.get("purpose", "deploy"),
            platform=data.get("platform", "local"),
        )


def build_plan(
    environment: str,
    release: Release,
    policy: Deploy,
    stable: Color,
    previous_version: str | None,
    ready_timeout: int | None = None,
) -> Plan:
    """The exact steps to put `release` live on the idle color. `ready_timeout`: the
    platform's (rollout.readiness); default the policy's, else the local platform's."""
    new = stable.other
    ready = ready_timeout or policy.ready_timeout_seconds or LOCAL_READY_TIMEOUT
    steps: list[Step] = [
        Step("prepare", color=new, version=release.version),
        Step("await-healthy", color=new, seconds=float(ready)),
        Step("smoke", color=new, version=release.version),
    ]
    for percent in policy.traffic_steps:
        steps.append(shift(stable, new, percent))
        steps.append(Step("bake", color=new, seconds=float(policy.bake_seconds)))
        steps.append(Step("analyse", color=new))
    steps.append(Step("finalise", color=stable, seconds=float(policy.scale_down_delay_seconds)))
    rollback = (
        Step("shift", weights=((stable, 100), (new, 0))),
        Step("stop", color=new),
    )
    return Plan(
        environment=environment,
        release=release,
        stable=stable,
        new=new,
        previous_version=previous_version,
        steps=tuple(steps),
        rollback=rollback,
        policy=policy,
    )


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
