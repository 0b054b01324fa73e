"""One small Protocol per external system a rollout drives; fakes live in rollout.fakes.

Weights are percentages of production traffic per color (0..100, summing to 100 while any
color takes traffic); each platform maps them to its own scale (HAProxy 0..256, ALB 0..999).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from shipyard.config.model import Color


class ServerState(StrEnum):
    UP = "up"
    DOWN = "down"
    DRAINING = "draining"
    MAINT = "maint"
    STOPPED = "stopped"


@dataclass(frozen=True)
class ServerHealth:
    name: str
    color: Color
    state: ServerState
    requests: int = 0
    http_5xx: int = 0
    connection_errors: int = 0
    response_errors: int = 0
    check: str = ""
    response_ms: int = 0  # the platform's recent response time (HAProxy: average of last 1024)


@dataclass(frozen=True)
class ColorHealth:
    """A color's servers, and its error counts over a window (deltas, not totals)."""

    color: Color
    servers: list[ServerHealth] = field(default_factory=list)
    requests: int = 0
    http_5xx: int = 0
    errors: int = 0
    response_ms: int = 0  # the slowest server's recent response time
    alarms: tuple[str, ...] = ()  # the platform's alarms for this color now in ALARM
    at: float = 0.0  # when the snapshot was taken (epoch seconds), for metric windows

    @property
    def ready(self) -> bool:
        return bool(self.servers) and all(s.state is ServerState.UP for s in self.servers)


class TrafficRouter(Protocol):
    def weights(self) -> dict[Color, int]:
        """Production traffic share per color, read from the router itself."""

    def set_weights(self, weights: dict[Color, int]) -> None:
        """Send this share of new production requests to each color."""

    def verify(self, weights: dict[Color, int]) -> bool:
        """Whether the router reports exactly these weights now."""


class Fleet(Protocol):
    def start(self, color: Color, version: str) -> None:
        """Run the color's servers at this version (replacing what runs there)."""

    def await_ready(self, color: Color, timeout: float) -> bool:
        """Wait until every server of the color passes its health check."""

    def drain_and_stop(self, color: Color, timeout: float) -> None:
        """Stop new requests to the color, let in-flight ones finish, stop its servers."""

    def versions(self) -> dict[Color, str | None]:
        """What each color runs now (None when stopped)."""


class HealthSource(Protocol):
    def snapshot(self) -> dict[Color, ColorHealth]:
        """Servers' states and cumulative counters per color, now."""

    def over_window(
        self, before: dict[Color, ColorHealth], after: dict[Color, ColorHealth]
    ) -> dict[Color, ColorHealth]:
        """Counters as deltas between two snapshots, states as of the later one."""


class BackgroundTraffic(Protocol):
    """Requests a rollout sends to its own production URL while it shifts traffic (AWS:
    rollout.platforms.aws.probe). `stop` is idempotent and returns what was sent."""

    def start(self) -> None: ...

    def stop(self) -> dict[str, Any]: ...
