"""Crash safety: SIGKILL the orchestrator at each step in turn, under load. Traffic never
lands on an unhealthy color, `status` shows the interrupted rollout, and `deploy --resume`
(even steps) or `rollback` (odd steps) brings it to a terminal state. Killed after a step
acted and before `step-finished` (prepare started the new color; a shift moved traffic),
both recoveries end consistent: traffic on a healthy color, as the ledger says, no orphan."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from rollout.ledger import SqliteLedger
from rollout.load import Load
from rollout.platforms.local.health import HaproxyHealth
from rollout.platforms.local.platform import local_down, local_up
from rollout.platforms.local.processes import alive
from rollout.platforms.local.router import HaproxyRouter
from rollout.platforms.local.runtime_api import RuntimeApi
from rollout.platforms.local.state import LocalState
from shipyard.config.load import StackSources
from shipyard.config.model import Color
from shipyard.stacks import plan_stack_files, write_stack_files
from tests.drills import (
    assert_killed_after_acting,
    deploy_held_after_effect,
    deploy_held_at_step,
    recover_after_kill,
    shipyard,
)

STEPS = 10  # prepare, await, smoke, (shift, bake, analyse) x 2, finalise
PREPARE, FIRST_SHIFT = 0, 3


@pytest.fixture
def dev(project: StackSources) -> Iterator[tuple[StackSources, LocalState]]:
    overlay = project.overlay("dev")
    doc: dict[str, Any] = yaml.safe_load(overlay.read_text())
    doc["deploy"] = {
        "trafficSteps": [50, 100],
        "bakeSeconds": 1,
        "readyTimeoutSeconds": 10,
        "scaleDownDelaySeconds": 300,
        "analysis": {"minRequests": 10, "onInconclusive": "fail"},
    }
    overlay.write_text(yaml.safe_dump(doc))
    write_stack_files(project, plan_stack_files(project))
    state = local_up(project, "dev").state
    try:
        yield project, state
    finally:
        local_down(project, "dev")


def kill_at_step(project: StackSources, ledger: SqliteLedger, version: str, index: int) -> None:
    # Hold inside the step once it is in the ledger, so the kill lands within it.
    with deploy_held_at_step(project.root, ledger, index, "--version", version, "--service", "api"):
        pass


def latest(project: StackSources) -> dict[str, Any]:
    status = json.loads(shipyard(project, "status", "dev", "--format", "json").stdout)
    rollout: dict[str, Any] = status["rollouts"][-1]
    return rollout


def test_killed_at_every_step_the_rollout_is_recoverable_and_traffic_stays_healthy(
    dev: tuple[StackSources, LocalState],
) -> None:
    project, state = dev
    ledger = SqliteLedger(project.root / ".shipyard" / "ledger.db")
    api = state.service("api")
    with Load(f"{api.url}/version", threads=1, max_seconds=300, max_requests=400_000) as load:
        for index in range(STEPS):
            kill_at_step(project, ledger, f"v{10 + index}", index)
            interrupted = latest(project)
            assert interrupted["state"] == "interrupted", (index, interrupted)
            assert interrupted["version"] == f"v{10 + index}"
            recover_after_kill(
                lambda *args: shipyard(project, *args), lambda: latest(project)["state"], index
            )
    assert load.failed == [], load.failed[:5]
    assert len(load.samples) > 500
    assert ledger.verify() == []


def live_color(state: LocalState) -> Color:
    weights = HaproxyRouter(RuntimeApi(state.socket), state.service("api")).weights()
    return max(weights, key=lambda color: weights[color])


def processes_of(root: Path) -> set[int]:
    """Every live process started for this project copy (its path is in their argv)."""
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes() if entry.name.isdigit() else b""
        except OSError:
            continue
        if str(root).encode() in argv and alive(int(entry.name)):
            found.add(int(entry.name))
    return found


def assert_consistent(
    project: StackSources, ledger: SqliteLedger, live: Color, version: str
) -> None:
    """Production traffic all on `live`, which is healthy and answers `version`; the weights
    are the last the ledger recorded; every process running is one the state file knows."""
    state = LocalState.load(project.root, "dev")
    assert state is not None
    api = state.service("api")
    router = HaproxyRouter(RuntimeApi(state.socket), api)
    assert router.weights() == {live: 100, live.other: 0}
    recorded = [
        e.data
        for e in ledger.events("dev")
        if e.kind == "weights-set" and e.data["router"] == "production"
    ][-1]
    assert {color: recorded[color.value] for color in Color} == router.weights()
    assert HaproxyHealth(RuntimeApi(state.socket), api).snapshot()[live].ready
    assert httpx.get(f"{api.url}/version").json()["version"] == version
    known = {state.haproxy_pid} | {s.pid for svc in state.services for s in svc.servers}
    assert processes_of(project.root) <= known, "orphan processes"
    assert all(alive(s.pid) for s in api.slots(live))


@pytest.mark.parametrize("recovery", ["resume", "rollback"])
@pytest.mark.parametrize("index", [PREPARE, FIRST_SHIFT], ids=["after-prepare", "after-shift"])
def test_killed_after_a_step_acted_and_before_it_finished_both_recoveries_are_consistent(
    dev: tuple[StackSources, LocalState], index: int, recovery: str
) -> None:
    project, state = dev
    ledger = SqliteLedger(project.root / ".shipyard" / "ledger.db")
    api = state.service("api")
    stable = live_color(state)
    previous = str(api.slots(stable)[0].version)
    with Load(f"{api.url}/version", threads=1, max_seconds=120) as load:
        args = ("--version", "v20", "--service", "api")
        with deploy_held_after_effect(project.root, ledger, index, *args):
            # The step's effect is real before the kill: the new color runs v20 (prepare),
            # or production traffic is split 50 / 50 (the first shift).
            if index == PREPARE:
                for slot in api.slots(stable.other):
                    answer = httpx.get(f"http://127.0.0.1:{slot.port}/version").json()
                    assert answer == {"version": "v20", "color": stable.other.value}
            else:
                router = HaproxyRouter(RuntimeApi(state.socket), api)
                assert router.weights() == {stable: 50, stable.other: 50}
        router_used = "test" if index == PREPARE else "production"
        assert_killed_after_acting(ledger, latest(project), index, router_used)
        if recovery == "resume":
            done = shipyard(project, "deploy", "dev", "--resume")
            expected, live = ("succeeded", "v20"), stable.other
        else:
            done = shipyard(project, "rollback", "dev")
            expected, live = ("rolled-back", previous), stable
        assert done.returncode == 0, done.stderr
        assert latest(project)["state"] == expected[0]
        assert_consistent(project, ledger, live, expected[1])
        if recovery == "rollback":
            fresh = LocalState.load(project.root, "dev")
            assert fresh is not None
            assert not any(alive(s.pid) for s in fresh.service("api").slots(stable.other))
    assert load.failed == [], load.failed[:5]
    assert ledger.verify() == []
