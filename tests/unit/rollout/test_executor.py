"""The executor against fakes: every step in the ledger before the next; failures roll back
with traffic moved to the stable color before the bad one stops."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rollout.executor import Executor, ProbeFactory, Target
from rollout.fakes import FakeFleet, FakeHealth, FakeRouter
from rollout.ledger import SqliteLedger
from rollout.plan import Release, build_plan
from rollout.state import RolloutState, derive_state
from shipyard.config.model import Color, Deploy
from smoke.runner import CheckResult, SmokeReport

BLUE, GREEN = Color.BLUE, Color.GREEN


class World:
    """Fakes wired together: during each bake, `traffic` requests reach the new color."""

    def __init__(self, tmp: Path, **policy: Any) -> None:
        self.router = FakeRouter()
        self.test_router = FakeRouter(current={BLUE: 0, GREEN: 100})
        self.fleet = FakeFleet()
        self.health = FakeHealth(fleet=self.fleet)
        self.ledger = SqliteLedger(tmp / "ledger.db")
        self.smoke_ok = True
        self.traffic = (1000, 0)  # requests, 5xx per bake, split by the weights
        self.active: list[Color] = []
        base = {
            "trafficSteps": [10, 50, 100],
            "bakeSeconds": 1,
            "analysis": {"minRequests": 50, "max5xxRate": 0.05},
        }
        self.policy = Deploy.model_validate({**base, **policy})

    def smoke(self, version: str) -> SmokeReport:
        problems = [] if self.smoke_ok else ["expected status 200, got 503"]
        result = CheckResult("ready", "http://x/healthz", not problems, 1, 200, 1.0, problems)
        return SmokeReport("http://x", version, [result])

    def sleep(self, seconds: float) -> None:
        requests, errors = self.traffic
        share = self.router.current[GREEN]
        self.health.record(GREEN, requests * share // 100, errors * share // 100)

    def run(self) -> Any:
        target = Target(
            router=self.router,
            test_router=self.test_router,
            fleet=self.fleet,
            health=self.health,
            smoke=self.smoke,
            mark_active=lambda color, versions: self.active.append(color),
            probe=self.probe_factory(),
        )
        plan = build_plan("dev", Release("web", "v2"), self.policy, BLUE, "v1")
        executor = Executor(plan, target, self.ledger, sleep=self.sleep)
        return executor.run()

    def probe_factory(self) -> ProbeFactory | None:
        """The platform's probe traffic: none here (test_probe_traffic.py gives one)."""
        return None

    def kinds(self) -> list[str]:
        return [e.kind for e in self.ledger.events()]


def test_a_good_release_goes_live_step_by_step(tmp_path: Path) -> None:
    world = World(tmp_path)
    outcome = world.run()
    assert outcome.status == "succeeded"
    assert world.router.history == [
        {BLUE: 90, GREEN: 10},
        {BLUE: 50, GREEN: 50},
        {BLUE: 0, GREEN: 100},
    ]
    assert world.active == [GREEN]
    assert world.fleet.events == ["start green v2", "await green"]  # blue stays warm
    kinds = world.kinds()
    assert kinds[0] == "release" and kinds[-1] == "outcome"
    started = [e.data["index"] for e in world.ledger.events() if e.kind == "step-started"]
    finished = [e.data["index"] for e in world.ledger.events() if e.kind == "step-finished"]
    assert started == finished == list(range(13))
    # Every step is on disk before the next one starts.
    order = [
        (e.kind, e.data.get("index"))
        for e in world.ledger.events()
        if e.kind in ("step-started", "step-finished")
    ]
    assert order == [(k, i) for i in range(13) for k in ("step-started", "step-finished")]
    assert derive_state(world.ledger.events(), lock_held=False) is RolloutState.SUCCEEDED


def test_a_faulty_release_is_rolled_back_after_the_first_step(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.traffic = (1000, 300)  # 30% 5xx
    outcome = world.run()
    assert outcome.status == "rolled-back"
    assert outcome.message.startswith("analysis: 5xx rate 30.0% (30 of 100) above 5.0%")
    assert outcome.figures["requests"] == 100
    # The bad color got the first step's share, then everything went back to blue.
    assert world.router.history == [{BLUE: 90, GREEN: 10}, {BLUE: 100, GREEN: 0}]
    assert world.fleet.events[-1] == "stop green"
    kinds = world.kinds()
    assert kinds.index("rollback-started") < kinds.index("rollback-finished")
    assert derive_state(world.ledger.events(), False) is RolloutState.ROLLED_BACK


def test_a_release_that_never_becomes_healthy_gets_no_traffic(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.fleet.unhealthy.add(GREEN)
    outcome = world.run()
    assert outcome.status == "rolled-back"
    assert outcome.message == "health: green never passed its health check within 60 s"
    assert all(w[GREEN] == 0 for w in world.router.history)


def test_a_failed_smoke_test_stops_before_any_traffic(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.smoke_ok = False
    outcome = world.run()
    assert outcome.status == "rolled-back"
    assert outcome.message == "smoke: ready: expected status 200, got 503"
    assert all(w[GREEN] == 0 for w in world.router.history)


def test_too_little_traffic_never_passes_silently(tmp_path: Path) -> None:
    failing = World(tmp_path / "fail", analysis={"minRequests": 50, "onInconclusive": "fail"})
    failing.traffic = (0, 0)
    outcome = failing.run()
    assert outcome.status == "rolled-back"
    assert "inconclusive: 0 requests, fewer than 50" in outcome.message

    pausing = World(tmp_path / "pause", analysis={"minRequests": 50, "onInconclusive": "pause"})
    pausing.traffic = (0, 0)
    paused = pausing.run()
    assert paused.status == "paused"
    assert "shipyard deploy dev --resume" in paused.message
    assert pausing.router.current == {BLUE: 90, GREEN: 10}  # nothing more, nothing undone
    checks = [e for e in pausing.ledger.events() if e.kind == "check"]
    assert [c.data["result"] for c in checks] == ["inconclusive"] * 4


@pytest.mark.parametrize("policy", [{"trafficSteps": [100]}, {"trafficSteps": [25, 100]}])
def test_weights_in_the_ledger_match_the_router(tmp_path: Path, policy: dict[str, Any]) -> None:
    world = World(tmp_path, **policy)
    world.traffic = (1000, 0)
    assert world.run().status == "succeeded"
    recorded = [
        {BLUE: e.data["blue"], GREEN: e.data["green"]}
        for e in world.ledger.events()
        if e.kind == "weights-set" and e.data["router"] == "production"
    ]
    assert recorded == world.router.history


def test_analysis_fails_on_slow_responses() -> None:
    from rollout.analysis import analyse
    from rollout.interfaces import ColorHealth, ServerHealth, ServerState
    from shipyard.config.model import Analysis

    server = ServerHealth("green1", GREEN, ServerState.UP, requests=100, response_ms=1500)
    window = ColorHealth(GREEN, [server], requests=100, response_ms=1500)
    verdict = analyse(window, Analysis(max_p99_latency_ms=800, min_requests=10))
    assert (verdict.result, verdict.reason) == ("fail", "response time 1500 ms above 800 ms")
    quick = ColorHealth(GREEN, [server], requests=100, response_ms=20)
    assert analyse(quick, Analysis(max_p99_latency_ms=800, min_requests=10)).result == "pass"
