"""In-memory fakes of every rollout interface, for unit tests: no patching needed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rollout.executor import Target
from rollout.interfaces import ColorHealth, ServerHealth, ServerState
from shipyard.config.model import Color, Deploy, Service
from shipyard.errors import PlatformError, UsageError
from smoke.runner import CheckResult, SmokeReport


@dataclass
class FakeRouter:
    """Keeps weights in memory; `history` records every change in order.

    Faults: weights in `drops` are accepted but never applied (the read-back differs, as when
    someone changes the router behind shipyard's back); weights in `refuses` are refused by
    the platform (PlatformError)."""

    current: dict[Color, int] = field(default_factory=lambda: {Color.BLUE: 100, Color.GREEN: 0})
    history: list[dict[Color, int]] = field(default_factory=list)
    drops: list[dict[Color, int]] = field(default_factory=list)
    refuses: list[dict[Color, int]] = field(default_factory=list)
    down: bool = False  # the load balancer is gone: every call fails as a platform failure

    def weights(self) -> dict[Color, int]:
        self._reachable()
        return dict(self.current)

    def _reachable(self) -> None:
        if self.down:
            raise PlatformError("the load balancer is not answering", "weights", "unreachable")

    def set_weights(self, weights: dict[Color, int]) -> None:
        self._reachable()
        if any(not 0 <= w <= 100 for w in weights.values()):
            raise ValueError(f"weights must be 0..100 (got {weights})")
        wanted = {color: weights.get(color, 0) for color in Color}
        if wanted in self.refuses:
            raise PlatformError(f"the router refused {wanted}", "set_weights", "Refused")
        if wanted in self.drops:
            return
        self.current = wanted
        self.history.append(dict(self.current))

    def verify(self, weights: dict[Color, int]) -> bool:
        self._reachable()
        return self.current == {color: weights.get(color, 0) for color in Color}


@dataclass
class FakeFleet:
    """Colors start instantly; `unhealthy` colors never become ready."""

    running: dict[Color, str | None] = field(
        default_factory=lambda: {Color.BLUE: "v1", Color.GREEN: None}
    )
    unhealthy: set[Color] = field(default_factory=set)
    events: list[str] = field(default_factory=list)

    def start(self, color: Color, version: str) -> None:
        self.running[color] = version
        self.events.append(f"start {color.value} {version}")

    def await_ready(self, color: Color, timeout: float) -> bool:
        self.events.append(f"await {color.value}")
        return self.running.get(color) is not None and color not in self.unhealthy

    def drain_and_stop(self, color: Color, timeout: float) -> None:
        self.running[color] = None
        self.events.append(f"stop {color.value}")

    def versions(self) -> dict[Color, str | None]:
        return dict(self.running)


@dataclass
class FakeHealth:
    """Counters a test sets directly; states follow FakeFleet when one is given."""

    counters: dict[Color, tuple[int, int, int]] = field(default_factory=dict)  # req, 5xx, err
    fleet: FakeFleet | None = None

    def record(self, color: Color, requests: int, http_5xx: int = 0, errors: int = 0) -> None:
        before = self.counters.get(color, (0, 0, 0))
        self.counters[color] = (before[0] + requests, before[1] + http_5xx, before[2] + errors)

    def snapshot(self) -> dict[Color, ColorHealth]:
        snapshot = {}
        for color in Color:
            requests, http_5xx, errors = self.counters.get(color, (0, 0, 0))
            up = self.fleet is None or (
                self.fleet.running.get(color) is not None and color not in self.fleet.unhealthy
            )
            server = ServerHealth(
                name=f"{color.value}1",
                color=color,
                state=ServerState.UP if up else ServerState.DOWN,
                requests=requests,
                http_5xx=http_5xx,
                connection_errors=errors,
            )
            snapshot[color] = ColorHealth(color, [server], requests, http_5xx, errors)
        return snapshot

    def over_window(
        self, before: dict[Color, ColorHealth], after: dict[Color, ColorHealth]
    ) -> dict[Color, ColorHealth]:
        return {
            color: ColorHealth(
                color,
                now.servers,
                now.requests - before[color].requests,
                now.http_5xx - before[color].http_5xx,
                now.errors - before[color].errors,
            )
            for color, now in after.items()
        }


@dataclass
class FakePlatform:
    """A Platform made of the fakes above, shared by every service; `live_color` follows
    each finalised rollout, and the smoke test passes while `smoke_passes`."""

    router: FakeRouter = field(default_factory=FakeRouter)
    test_router: FakeRouter = field(
        default_factory=lambda: FakeRouter(current={Color.BLUE: 0, Color.GREEN: 100})
    )
    fleet: FakeFleet = field(default_factory=FakeFleet)
    health: FakeHealth = field(default_factory=FakeHealth)
    live_color: Color = Color.BLUE
    smoke_passes: bool = True
    name: str = "local"
    refusal: str | None = None  # what `preflight` refuses, if anything

    def target(self, service: Service, *, start: bool = True) -> Target:
        return Target(
            router=self.router,
            test_router=self.test_router,
            fleet=self.fleet,
            health=self.health,
            smoke=self._smoke,
            mark_active=self._mark_active,
        )

    def live(self, service: Service, *, start: bool = True) -> Color:
        return self.live_color

    def preflight(self, service: Service, policy: Deploy) -> None:
        if self.refusal is not None:
            raise UsageError(self.refusal)

    def urls(self, service: Service) -> dict[str, str]:
        return {"production": "http://127.0.0.1:9", "test": "http://127.0.0.1:10"}

    def _mark_active(self, color: Color, versions: dict[Color, str | None]) -> None:
        self.live_color = color

    def _smoke(self, version: str) -> SmokeReport:
        problems = [] if self.smoke_passes else ["expected status 200, got 503"]
        check = CheckResult(
            "ready", "http://127.0.0.1:10/healthz", not problems, 1, 200, 1.0, problems
        )
        return SmokeReport("http://127.0.0.1:10", version, [check])


@dataclass
class FakeTraffic:
    """BackgroundTraffic that only remembers what it was told."""

    events: list[str] = field(default_factory=list)

    def start(self) -> None:
        self.events.append("start")

    def stop(self) -> dict[str, Any]:
        self.events.append("stop")
        return {"sent": 0}
