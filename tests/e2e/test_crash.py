"""Crash safety: SIGKILL the orchestrator at each step in turn, under load. Traffic never
lands on an unhealthy color, `status` shows the interrupted rollout, and `deploy --resume`
(even steps) or `rollback` (odd steps) brings it to a terminal state."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from rollout.ledger import SqliteLedger
from rollout.load import Load
from rollout.platforms.local.platform import local_down, local_up
from rollout.platforms.local.state import LocalState
from shipyard.config.load import StackSources
from shipyard.stacks import plan_stack_files, write_stack_files
from tests.drills import SHIPYARD, deploy_held_at_step

STEPS = 10  # prepare, await, smoke, (shift, bake, analyse) x 2, finalise


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


def shipyard(project: StackSources, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SHIPYARD, "--project-dir", str(project.root), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


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
    with Load(f"{api.url}/version", threads=1, max_seconds=300) as load:
        for index in range(STEPS):
            kill_at_step(project, ledger, f"v{10 + index}", index)
            interrupted = latest(project)
            assert interrupted["state"] == "interrupted", (index, interrupted)
            assert interrupted["version"] == f"v{10 + index}"
            refused = shipyard(project, "deploy", "dev", "--version", "v99", "--service", "api")
            assert refused.returncode == 1 and "--resume" in refused.stderr
            if index % 2 == 0:
                finished = shipyard(project, "deploy", "dev", "--resume")
                assert finished.returncode == 0, (index, finished.stderr)
                assert latest(project)["state"] == "succeeded"
            else:
                undone = shipyard(project, "rollback", "dev")
                assert undone.returncode == 0, undone.stderr
                assert latest(project)["state"] == "rolled-back", (index, undone.stderr)
    assert load.failed == [], load.failed[:5]
    assert len(load.samples) > 500
    assert ledger.verify() == []
