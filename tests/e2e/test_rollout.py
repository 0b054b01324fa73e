"""Whole rollouts on the local platform under live load: zero failed requests, automatic
rollback of a faulty release, no traffic for a release that never becomes healthy.

Given dev running locally (web live on green v2, api live on blue v1), with a policy of
10/50/100% steps, 1 s bakes and analysis over at least 20 requests.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml

from rollout.deploy import DeployOptions, deploy
from rollout.ledger import SqliteLedger
from rollout.load import Load
from rollout.platforms.local.platform import local_down, local_up
from rollout.platforms.local.state import LocalState
from rollout.rollback import instant_rollback
from shipyard.config.load import StackSources
from shipyard.stacks import plan_stack_files, write_stack_files
from tests.conftest import CliResult


@pytest.fixture
def dev(project: StackSources) -> Iterator[tuple[StackSources, LocalState, SqliteLedger]]:
    overlay = project.overlay("dev")
    doc: dict[str, Any] = yaml.safe_load(overlay.read_text())
    doc["deploy"] = {
        "trafficSteps": [10, 50, 100],
        "bakeSeconds": 1,
        "readyTimeoutSeconds": 5,
        "scaleDownDelaySeconds": 300,
        "analysis": {"minRequests": 20, "max5xxRate": 0.05, "onInconclusive": "fail"},
    }
    for service in doc["services"]:
        service["environment"] = {"APP_ERROR_RATE": "0.3@v3", "APP_FAIL_HEALTH": "1@v4"}
    overlay.write_text(yaml.safe_dump(doc))
    write_stack_files(project, plan_stack_files(project))
    state = local_up(project, "dev").state
    try:
        yield project, state, SqliteLedger(project.root / ".shipyard" / "ledger.db")
    finally:
        local_down(project, "dev")


def test_deploy_and_instant_rollback_under_load_drop_nothing(
    dev: tuple[StackSources, LocalState, SqliteLedger],
) -> None:
    sources, state, ledger = dev
    api = state.service("api")
    with Load(f"{api.url}/version", threads=2) as load:
        load.wait_for(200)
        outcome = deploy(sources, DeployOptions("dev", "v2", "api"), ledger)
        assert outcome.status == "succeeded", outcome.message
        deployed = time.monotonic()
        load.wait_for(len(load.samples) + 200)
        rolling = time.monotonic()
        back = instant_rollback(sources, "dev", "api", ledger)
        assert back.status == "succeeded", back.message
        rolled = time.monotonic()
        load.wait_for(len(load.samples) + 300)
    assert len(load.samples) >= 2000, len(load.samples)
    assert load.rate >= 100, load.rate
    assert load.failed == []
    assert {s.version for s in load.samples} == {"v1", "v2"}
    # Between the deploy and the rollback everything came from v2; after it, from v1.
    settle = 0.05  # requests in flight when the weights changed
    live = {s.version for s in load.samples if deployed + settle < s.at < rolling}
    restored = {s.version for s in load.samples if s.at > rolled + settle}
    assert (live, restored) == ({"v2"}, {"v1"})
    assert back.seconds < 1.0


def test_a_faulty_release_is_rolled_back_automatically(
    dev: tuple[StackSources, LocalState, SqliteLedger],
) -> None:
    sources, state, ledger = dev
    api = state.service("api")
    with Load(f"{api.url}/version", threads=2) as load:
        load.wait_for(200)
        outcome = deploy(sources, DeployOptions("dev", "v3", "api"), ledger)
        load.wait_for(len(load.samples) + 200)
    assert outcome.status == "rolled-back"
    assert outcome.message.startswith("analysis: 5xx rate")
    bad = [s for s in load.samples if s.version == "v3"]
    errors = [s for s in load.samples if s.status == 500]
    assert errors, "the faulty release answered no requests at all"
    # Back on the stable color within (bake x 1 failed analysis) + 1 s of the first bad sample.
    assert bad[-1].at - errors[0].at <= 1.0 * 1 + 1.0
    # The bad color got at most the first step's share (10%, with slack for timing).
    window = [s for s in load.samples if bad[0].at <= s.at <= bad[-1].at]
    assert len(bad) / len(window) <= 0.15, (len(bad), len(window))
    assert load.samples[-1].version == "v1"
    assert not any(s.status is None for s in load.samples)


def test_a_release_that_never_becomes_healthy_gets_no_traffic(
    dev: tuple[StackSources, LocalState, SqliteLedger], cli: Callable[..., CliResult]
) -> None:
    sources, state, _ = dev
    api = state.service("api")
    with Load(f"{api.url}/version", threads=1) as load:
        load.wait_for(50)
        result = cli("deploy", "dev", "--version", "v4", "--service", "api", project=sources)
    assert result.code == 1
    assert "health: green never passed its health check" in result.err
    assert {s.version for s in load.samples} == {"v1"}
    assert load.failed == []
