"""The executor when the platform misbehaves (fakes): weights that read back wrong fail the
rollout like any check, and a rollback that cannot finish says so, never "rolled back"."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollout.executor import Executor, Target
from rollout.plan import Release, build_plan
from rollout.state import RolloutState, derive_state
from shipyard.config.model import Color
from shipyard.errors import CheckFailed
from tests.unit.rollout.test_executor import World

BLUE, GREEN = Color.BLUE, Color.GREEN
FIRST_SHIFT = {BLUE: 90, GREEN: 10}
ALL_ON_BLUE = {BLUE: 100, GREEN: 0}


def executor(world: World) -> Executor:
    """The same rollout World.run starts, to act on it again (abort, resume)."""
    target = Target(
        world.router, world.test_router, world.fleet, world.health, world.smoke, lambda c, v: None
    )
    plan = build_plan("dev", Release("web", "v2"), world.policy, BLUE, "v1")
    rollout = next(e.rollout for e in world.ledger.events() if e.kind == "release")
    return Executor(plan, target, world.ledger, rollout=rollout, sleep=world.sleep)


def test_weights_that_read_back_wrong_fail_the_rollout_and_traffic_returns_to_stable(
    tmp_path: Path,
) -> None:
    world = World(tmp_path)
    world.router.drops.append(FIRST_SHIFT)  # the router says yes, then reports 100 / 0
    outcome = world.run()
    assert outcome.status == "rolled-back"
    assert outcome.message == (
        "router: production weights read back as blue 100% / green 0% after setting "
        "blue 90% / green 10%"
    )
    assert world.router.current == ALL_ON_BLUE
    assert world.fleet.events[-1] == "stop green"
    failed = [e.data for e in world.ledger.events() if e.kind == "check-failed"]
    assert [f["check"] for f in failed] == ["router"]
    # The ledger records only weights the router confirmed: never the 90 / 10 it lost.
    production = [
        e.data
        for e in world.ledger.events()
        if e.kind == "weights-set" and e.data["router"] == "production"
    ]
    assert {"router": "production", "blue": 90, "green": 10} not in production
    assert derive_state(world.ledger.events(), lock_held=False) is RolloutState.ROLLED_BACK


@pytest.mark.parametrize(
    ("fault", "check"),
    [
        ("refuses", "the router refused"),
        ("drops", "production weights read back as blue 90% / green 10%"),
    ],
)
def test_a_rollback_the_router_will_not_take_is_reported_not_claimed(
    tmp_path: Path, fault: str, check: str
) -> None:
    world = World(tmp_path)
    world.traffic = (1000, 300)  # 30% 5xx: the analysis fails at the first step
    getattr(world.router, fault).append(ALL_ON_BLUE)
    outcome = world.run()
    assert (outcome.status, outcome.ok) == ("failed", False)  # exit 1, never "rolled back"
    message = outcome.message
    assert "\n" not in message
    assert message.startswith("analysis: ") and "; the rollback failed (" in message
    assert check in message
    assert "then `shipyard rollback dev --service web` puts traffic back on blue" in message
    kinds = world.kinds()
    failed = [e.data for e in world.ledger.events() if e.kind == "rollback-failed"]
    assert [f["step"] for f in failed] == ["shift blue 100% / green 0%"]
    assert "rollback-finished" not in kinds
    assert derive_state(world.ledger.events(), lock_held=False) is RolloutState.FAILED
    # Traffic still reaches green, so green keeps running.
    assert world.router.current == FIRST_SHIFT
    assert "stop green" not in world.fleet.events

    # Resuming would carry on a release that failed its analysis: refused, nothing moves.
    with pytest.raises(CheckFailed, match="undo it with `shipyard rollback dev`"):
        executor(world).run(start_at=3)
    assert world.router.current == FIRST_SHIFT

    # Once the router takes weights again, the rollback the message names finishes the undo.
    getattr(world.router, fault).clear()
    undone = executor(world).abort("rolled back by hand after the rollback failed")
    assert (undone.status, undone.ok) == ("rolled-back", True)
    assert world.router.current == ALL_ON_BLUE
    assert world.fleet.events[-1] == "stop green"


def test_a_rollback_never_sends_everything_to_an_unhealthy_stable_color(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.traffic = (1000, 300)
    world.fleet.unhealthy.add(BLUE)  # blue's servers fail their health checks
    outcome = world.run()
    assert outcome.status == "failed"
    assert "blue (the stable color) has no healthy server" in outcome.message
    assert "shipyard rollback dev --service web" in outcome.message
    assert world.router.current == FIRST_SHIFT  # left alone: a person decides
    assert "stop green" not in world.fleet.events
    assert "rollback-finished" not in world.kinds()
    failed = [e.data for e in world.ledger.events() if e.kind == "rollback-failed"]
    assert failed == [
        {
            "step": "check-stable blue",
            "check": "health",
            "message": "blue (the stable color) has no healthy server",
        }
    ]
