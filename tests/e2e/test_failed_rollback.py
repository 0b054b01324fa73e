"""A rollback that cannot finish, on the local platform with real HAProxy and processes: a
release fails its analysis while the stable color has no server up. The deploy exits 1 with
one line naming the fix, claims nothing, leaves traffic where it is; once the stable color
is back, the `rollback` that line names finishes the undo.

Given dev running locally (api live on blue v1), analysis over at least 20 requests and no
load: the first analysis fails as inconclusive (`onInconclusive: fail`).
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable

from rollout.interfaces import ServerState
from rollout.ledger import SqliteLedger
from rollout.platforms.local.health import HaproxyHealth
from rollout.platforms.local.processes import alive
from rollout.platforms.local.router import HaproxyRouter
from rollout.platforms.local.runtime_api import RuntimeApi
from rollout.platforms.local.state import LocalState
from shipyard.config.load import StackSources
from shipyard.config.model import Color
from tests.drills import shipyard
from tests.e2e.test_rollout import dev

__all__ = ["dev"]  # the fixture: dev up with the faulty v3

BLUE, GREEN = Color.BLUE, Color.GREEN


def await_condition(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_rollback_onto_a_stable_color_with_no_server_up_stops_and_says_what_to_do(
    dev: tuple[StackSources, LocalState, SqliteLedger],
) -> None:
    project, state, ledger = dev
    api = state.service("api")
    runtime = RuntimeApi(state.socket)
    router = HaproxyRouter(runtime, api)
    health = HaproxyHealth(runtime, api)
    assert router.weights() == {BLUE: 100, GREEN: 0}
    for slot in api.slots(BLUE):  # blue's processes hang: they fail their health checks
        assert slot.pid is not None
        os.kill(slot.pid, signal.SIGSTOP)
    await_condition(lambda: health.snapshot()[BLUE].servers[0].state is ServerState.DOWN)

    failed = shipyard(project, "deploy", "dev", "--version", "v3", "--service", "api")
    assert failed.returncode == 1
    assert "Traceback" not in failed.stderr, failed.stderr
    last = failed.stderr.splitlines()[-1]  # after the steps' progress lines
    assert last.startswith("shipyard: deploy failed: analysis: "), last
    assert "blue (the stable color) has no healthy server" in last
    assert "then `shipyard rollback dev --service api` puts traffic back on blue" in last
    status = json.loads(shipyard(project, "status", "dev", "--format", "json").stdout)
    assert status["rollouts"][-1]["state"] == "failed"
    failed_checks = [e.data["check"] for e in ledger.events("dev") if e.kind == "check-failed"]
    assert failed_checks == ["analysis"]  # too few requests (onInconclusive: fail), not the router
    kinds = [e.kind for e in ledger.events("dev")]
    assert "rollback-failed" in kinds and "rollback-finished" not in kinds
    assert router.weights() == {BLUE: 90, GREEN: 10}  # left as it was for a person to decide
    during = LocalState.load(project.root, "dev")
    assert during is not None
    assert all(alive(slot.pid) for slot in during.service("api").slots(GREEN))

    for slot in api.slots(BLUE):  # blue is back
        assert slot.pid is not None
        os.kill(slot.pid, signal.SIGCONT)
    await_condition(lambda: health.snapshot()[BLUE].ready)
    undone = shipyard(project, "rollback", "dev")
    assert undone.returncode == 0, undone.stderr
    status = json.loads(shipyard(project, "status", "dev", "--format", "json").stdout)
    assert status["rollouts"][-1]["state"] == "rolled-back"
    assert router.weights() == {BLUE: 100, GREEN: 0}
    fresh = LocalState.load(project.root, "dev")
    assert fresh is not None
    assert not any(alive(slot.pid) for slot in fresh.service("api").slots(GREEN))
    assert ledger.verify() == []
