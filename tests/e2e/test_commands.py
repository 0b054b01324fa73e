"""deploy, rollback, status and ledger as a user runs them, on the local platform."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml

from rollout.ledger import SqliteLedger
from rollout.platforms.local.platform import local_down
from shipyard.config.load import StackSources
from shipyard.stacks import plan_stack_files, write_stack_files
from tests.conftest import CliResult, snapshot


@pytest.fixture
def fast(project: StackSources) -> Iterator[StackSources]:
    overlay = project.overlay("dev")
    doc: dict[str, Any] = yaml.safe_load(overlay.read_text())
    doc["deploy"] = {
        "trafficSteps": [100],
        "bakeSeconds": 0,
        "scaleDownDelaySeconds": 0,
        "readyTimeoutSeconds": 10,
        "analysis": {"minRequests": 0},
    }
    overlay.write_text(yaml.safe_dump(doc))
    write_stack_files(project, plan_stack_files(project))
    try:
        yield project
    finally:
        local_down(project, "dev")


def test_bad_input_is_exit_2_and_starts_nothing(
    fast: StackSources, cli: Callable[..., CliResult]
) -> None:
    before = snapshot(fast.root)
    cases = [
        (("deploy", "dev", "--version", "v2", "--service", "nope"), "no service 'nope' in dev"),
        (("deploy", "dev", "--service", "api"), "--version is required"),
        (("deploy", "dev", "--version", "v2"), "dev has several services (web, api)"),
        (("deploy", "qa", "--version", "v2"), "unknown environment 'qa'"),
        (("deploy", "dev", "--version", "bad tag!", "--service", "api"), None),
        (
            ("deploy", "dev", "--version", "v2", "--service", "api", "--commit-time", "noon"),
            "--commit-time 'noon' is not an ISO 8601 time",
        ),
        (
            ("deploy", "dev", "--version", "v2", "--service", "api", "--commit-time", "2026-11-28"),
            "has no time zone",
        ),
    ]
    for args, message in cases:
        result = cli(*args, project=fast)
        assert result.code == 2, (args, result)
        if message:
            assert message in result.err, (args, result.err)
        assert len(result.err.splitlines()) == 1
    assert snapshot(fast.root) == before


def test_deploy_status_rollback_and_ledger(
    fast: StackSources, cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHIPYARD_ACTOR", "oncall")
    deployed = cli(
        "deploy",
        "dev",
        "--version",
        "v2",
        "--service",
        "api",
        "--commit",
        "abc123",
        "--commit-time",
        "2026-11-28T09:14:00Z",
        "--author",
        "ada",
        "--format",
        "json",
        project=fast,
    )
    assert deployed.code == 0, deployed
    summary = json.loads(deployed.out)
    assert summary["status"] == "succeeded"
    assert "step 1: prepare green v2" in deployed.err

    status = json.loads(cli("status", "dev", "--format", "json", project=fast).out)
    api = next(s for s in status["local"]["services"] if s["name"] == "api")
    assert api["active_color"] == "green"
    assert api["weights"] == {"blue": 0, "green": 100}
    assert status["rollouts"][-1]["state"] == "succeeded"
    assert status["lock"] is None

    live = cli("smoke", "--env", "dev", "--service", "api", "--expect-version", "v2", project=fast)
    assert live.code == 0, live
    assert api["url"] in live.out and "FAIL" not in live.out
    wrong = cli("smoke", "--env", "dev", "--service", "api", "--idle", "--format", "json",
                project=fast)  # fmt: skip
    assert wrong.code == 1  # the idle color (blue) was stopped: nothing answers
    assert json.loads(wrong.out)["url"] == api["test_url"]

    # scaleDownDelaySeconds 0 stopped blue: rolling back redeploys the previous release.
    back = cli("rollback", "dev", "--service", "api", project=fast)
    assert back.code == 0, back
    assert "step 1: prepare blue v1" in back.err
    status = json.loads(cli("status", "dev", "--format", "json", project=fast).out)
    api = next(s for s in status["local"]["services"] if s["name"] == "api")
    assert (api["active_color"], api["versions"]["blue"]) == ("blue", "v1")

    pinned = cli("rollback", "dev", "--service", "api", "--to", "v7", project=fast)
    assert pinned.code == 0, pinned
    verified = cli("ledger", "verify", project=fast)
    assert verified.code == 0 and "chain intact" in verified.out
    history = json.loads(cli("ledger", "history", "dev", "--format", "json", project=fast).out)
    releases = [e["data"] for e in history if e["kind"] == "release"]
    assert [(r["version"], r["author"]) for r in releases][:1] == [("v2", "ada")]
    assert releases[0]["commit_time"] == "2026-11-28T09:14:00+00:00"
    assert [r["version"] for r in releases] == ["v2", "v1", "v7"]
    actors = [e["actor"] for e in history if e["kind"] == "release"]
    assert actors == ["oncall", "oncall", "oncall"]  # rollbacks name who rolled back


def test_a_second_deploy_while_one_runs_is_refused(
    fast: StackSources, cli: Callable[..., CliResult]
) -> None:
    ledger = SqliteLedger(fast.root / ".shipyard" / "ledger.db")
    held = ledger.acquire("dev", "ada deploying api@v2")
    result = cli("deploy", "dev", "--version", "v3", "--service", "api", project=fast)
    assert result.code == 1
    assert result.err.startswith(f"shipyard: dev is locked by ada deploying api@v2 (pid {held.pid}")
    assert f"since {held.since}" in result.err
    status = json.loads(cli("status", "dev", "--format", "json", project=fast).out)
    assert status["lock"]["holder"] == "ada deploying api@v2"
    ledger.release(held)
    nothing = cli("deploy", "dev", "--resume", project=fast)
    assert nothing.code == 2
    assert "no unfinished rollout to resume" in nothing.err


def test_scale_down_stops_the_warm_color_on_the_local_platform(
    fast: StackSources, cli: Callable[..., CliResult]
) -> None:
    overlay = fast.overlay("dev")
    doc: dict[str, Any] = yaml.safe_load(overlay.read_text())
    doc["deploy"]["scaleDownDelaySeconds"] = 300
    overlay.write_text(yaml.safe_dump(doc))
    write_stack_files(fast, plan_stack_files(fast))
    assert cli("deploy", "dev", "--version", "v2", "--service", "api", project=fast).code == 0

    def processes() -> dict[str, set[str]]:
        status = json.loads(cli("status", "dev", "--format", "json", project=fast).out)
        api = next(s for s in status["local"]["services"] if s["name"] == "api")
        found: dict[str, set[str]] = {"blue": set(), "green": set()}
        for server in api["health"]:
            found[server["color"]].add(server["process"])
        return found

    assert processes() == {"blue": {"running"}, "green": {"running"}}  # blue warm for 300 s
    warm = cli("scale-down", "dev", "--service", "api", project=fast)
    assert "api: blue stays warm" in warm.out
    assert processes()["blue"] == {"running"}
    retired = cli("scale-down", "dev", "--service", "api", "--now", project=fast)
    assert retired.out == "api: blue (v1) scaled down to its idle size\n", retired
    assert processes() == {"blue": {"stopped"}, "green": {"running"}}
    events = [e.kind for e in SqliteLedger(fast.root / ".shipyard" / "ledger.db").events("dev")]
    assert events[-1] == "scaled-down"
    contradiction = cli("scale-down", "dev", "--now", "--wait", project=fast)
    assert contradiction.code == 2 and "--now and --wait" in contradiction.err


def test_local_traffic_runs_in_the_background_until_stopped(
    fast: StackSources, cli: Callable[..., CliResult]
) -> None:
    from rollout.platforms.local.runtime_api import RuntimeApi
    from rollout.platforms.local.state import LocalState
    from rollout.platforms.local.traffic import running_traffic

    refused = cli("local", "traffic", "dev", project=fast)
    assert refused.code == 2 and "start it with `shipyard local up dev`" in refused.err
    assert cli("local", "up", "dev", project=fast).code == 0
    started = cli("local", "traffic", "dev", "--rate", "50", "--seconds", "60", project=fast)
    assert started.code == 0 and "dev: 50 requests/s to 2 service(s) for 60 s" in started.err
    state = LocalState.load(fast.root, "dev")
    assert state is not None and running_traffic(state) is not None
    api = RuntimeApi(state.socket)

    def served() -> int:
        backends = {s.backend for s in state.services}
        return sum(
            int(row.get("stot") or 0)
            for row in api.stats()
            if row["pxname"] in backends and row["svname"] == "BACKEND"
        )

    deadline = time.monotonic() + 10
    while served() < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert served() >= 20
    stopped = cli("local", "traffic", "dev", "--stop", project=fast)
    assert stopped.err == "dev: traffic stopped\n"
    assert running_traffic(state) is None
    assert cli("local", "traffic", "dev", "--stop", project=fast).err == "dev: no traffic\n"
