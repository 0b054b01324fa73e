"""The fakes behave like the interfaces promise, and so does the local weight arithmetic."""

from __future__ import annotations

import pytest

from rollout.fakes import FakeFleet, FakeHealth, FakeRouter
from rollout.interfaces import Fleet, HealthSource, ServerState, TrafficRouter
from rollout.platforms.local.health import server_state
from rollout.platforms.local.router import server_weights
from rollout.platforms.local.state import ServerSlot, ServiceState
from shipyard.config.model import Color

BLUE, GREEN = Color.BLUE, Color.GREEN


def service(blue: int, green: int) -> ServiceState:
    slots = [ServerSlot(f"blue{i}", BLUE, 9000 + i) for i in range(blue)]
    slots += [ServerSlot(f"green{i}", GREEN, 9100 + i) for i in range(green)]
    return ServiceState("web", 8000, 8001, BLUE, slots)


def test_fakes_satisfy_the_protocols() -> None:
    router: TrafficRouter = FakeRouter()
    fleet: Fleet = FakeFleet()
    health: HealthSource = FakeHealth()
    assert router.weights() == {BLUE: 100, GREEN: 0}
    assert fleet.versions() == {BLUE: "v1", GREEN: None}
    assert set(health.snapshot()) == {BLUE, GREEN}


def test_fake_router_records_and_verifies() -> None:
    router = FakeRouter()
    router.set_weights({BLUE: 90, GREEN: 10})
    router.set_weights({BLUE: 0, GREEN: 100})
    assert router.history == [{BLUE: 90, GREEN: 10}, {BLUE: 0, GREEN: 100}]
    assert router.verify({GREEN: 100})
    assert not router.verify({BLUE: 50, GREEN: 50})
    with pytest.raises(ValueError):
        router.set_weights({BLUE: 120, GREEN: -20})


def test_fake_fleet_and_health_report_an_unhealthy_color() -> None:
    fleet = FakeFleet(unhealthy={GREEN})
    health = FakeHealth(fleet=fleet)
    fleet.start(GREEN, "v2")
    assert fleet.await_ready(GREEN, timeout=1) is False
    assert health.snapshot()[GREEN].ready is False
    assert health.snapshot()[BLUE].ready is True
    fleet.drain_and_stop(GREEN, timeout=1)
    assert fleet.events == ["start green v2", "await green", "stop green"]


def test_fake_health_windows_are_deltas() -> None:
    health = FakeHealth()
    health.record(GREEN, requests=100, http_5xx=2)
    before = health.snapshot()
    health.record(GREEN, requests=50, http_5xx=5, errors=1)
    window = health.over_window(before, health.snapshot())
    assert (window[GREEN].requests, window[GREEN].http_5xx, window[GREEN].errors) == (50, 5, 1)


@pytest.mark.parametrize(
    ("counts", "shares", "expected"),
    [
        ((2, 2), {BLUE: 100, GREEN: 0}, {BLUE: 256, GREEN: 0}),
        ((2, 2), {BLUE: 80, GREEN: 20}, {BLUE: 205, GREEN: 51}),
        ((1, 3), {BLUE: 50, GREEN: 50}, {BLUE: 128, GREEN: 43}),
    ],
)
def test_server_weights_give_each_color_its_share(
    counts: tuple[int, int], shares: dict[Color, int], expected: dict[Color, int]
) -> None:
    web = service(*counts)
    weights = server_weights(shares, web)
    assert weights == expected
    total = counts[0] * weights[BLUE] + counts[1] * weights[GREEN]
    blue_share = 100 * counts[0] * weights[BLUE] / total
    assert abs(blue_share - shares[BLUE]) < 1


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("UP", ServerState.UP),
        ("UP 1/3", ServerState.UP),
        ("DOWN", ServerState.DOWN),
        ("DOWN 1/2", ServerState.DOWN),
        ("MAINT", ServerState.MAINT),
        ("DRAIN", ServerState.DRAINING),
        ("no check", ServerState.DOWN),
    ],
)
def test_haproxy_status_words(status: str, state: ServerState) -> None:
    assert server_state(status) is state
