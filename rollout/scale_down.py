"""Retire the warm previous color once its instant-rollback window has passed.

A rollout leaves the old color running for `deploy.scaleDownDelaySeconds`, so `rollback` can
flip back at once. Nothing is left waiting in the background to stop it afterwards: this does,
when run (CI runs it after each deploy with `--wait`; a schedule or a person can run it any
time). For each service it finds the last rollout that finished with a warm color, and if
that color is still off traffic and its window has passed, scales it to its idle size through
the platform's Fleet (ECS: `idleDesiredCount`; local: its processes stop). Idempotent; it
takes the environment's lock, so it never races a deploy.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rollout.executor import Platform
from rollout.ledger import Event, Ledger
from shipyard.config.load import StackSources, load_stack
from shipyard.config.model import Color, Service


@dataclass(frozen=True)
class Warm:
    """A service's old color, kept warm by its last rollout."""

    service: str
    color: Color
    since: dt.datetime  # when the rollout finished
    seconds: float  # how long it was to stay warm

    def remaining(self, now: dt.datetime) -> float:
        return max(0.0, self.seconds - (now - self.since).total_seconds())


@dataclass(frozen=True)
class ScaleDown:
    service: str
    action: str  # scaled-down | warm | nothing-warm | back-on-traffic
    color: str | None = None
    version: str | None = None
    remaining_seconds: float = 0.0

    def line(self) -> str:
        if self.action == "scaled-down":
            return f"{self.service}: {self.color} ({self.version}) scaled down to its idle size"
        if self.action == "warm":
            return (
                f"{self.service}: {self.color} stays warm {self.remaining_seconds:.0f} s more "
                "(the instant-rollback window); --wait waits for it, --now ends it"
            )
        if self.action == "back-on-traffic":
            return f"{self.service}: {self.color} takes traffic again: kept"
        return f"{self.service}: no warm color"

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "action": self.action,
            "color": self.color,
            "version": self.version,
            "remaining_seconds": round(self.remaining_seconds, 1),
        }


def warm_color(events: list[Event], service: str) -> Warm | None:
    """The color the service's last rollout left warm, unless retired since (`events`: one
    environment's, in order)."""
    last_rollout = None
    retired = False
    for event in events:
        if event.kind == "release" and event.data["service"] == service:
            last_rollout, retired = event.rollout, False
        elif event.kind == "scaled-down" and event.data.get("service") == service:
            retired = True
    if last_rollout is None or retired:
        return None
    mine = [e for e in events if e.rollout == last_rollout]
    finished = [e for e in mine if e.kind == "step-finished" and e.data.get("kind") == "finalise"]
    succeeded = any(e.kind == "outcome" and e.data.get("status") == "succeeded" for e in mine)
    if not finished or not succeeded or "warm_for_seconds" not in finished[-1].data:
        return None
    data = finished[-1].data
    return Warm(
        service,
        Color(data["previous"]),
        dt.datetime.fromisoformat(finished[-1].at),
        float(data["warm_for_seconds"]),
    )


def scale_down(
    sources: StackSources,
    environment: str,
    services: list[Service] | None,
    ledger: Ledger,
    platform: Platform,
    *,
    now: bool = False,
    wait: bool = False,
    actor: str = "shipyard",
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> list[ScaleDown]:
    config = load_stack(sources, environment).config
    events = ledger.events(environment)  # read once; each retirement reads again under the lock
    results = []
    for service in services or config.services:
        warm = warm_color(events, service.name)
        if warm is None:
            results.append(ScaleDown(service.name, "nothing-warm"))
            continue
        remaining = 0.0 if now else warm.remaining(clock())
        if remaining > 0 and wait:
            sleep(remaining)
            remaining = 0.0
        if remaining > 0:
            results.append(ScaleDown(service.name, "warm", warm.color.value, None, remaining))
            continue
        lock = ledger.acquire(environment, f"{actor} scaling down {service.name}")
        try:
            results.append(_retire(ledger, environment, service, warm, platform, actor))
        finally:
            ledger.release(lock)
    return results


def _retire(
    ledger: Ledger,
    environment: str,
    service: Service,
    warm: Warm,
    platform: Platform,
    actor: str,
) -> ScaleDown:
    if warm_color(ledger.events(environment), service.name) != warm:
        return ScaleDown(service.name, "nothing-warm")  # a deploy came in between
    if platform.live(service, start=False) is warm.color:
        return ScaleDown(service.name, "back-on-traffic", warm.color.value)
    fleet = platform.target(service, start=False).fleet
    version = fleet.versions().get(warm.color)
    fleet.drain_and_stop(warm.color, timeout=30)
    ledger.append(
        environment,
        "scaled-down",
        {"service": service.name, "color": warm.color.value, "version": version},
        actor=actor,
    )
    return ScaleDown(service.name, "scaled-down", warm.color.value, version)
