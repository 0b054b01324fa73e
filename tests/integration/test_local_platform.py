"""The local platform with real HAProxy and real processes, on 127.0.0.1 only."""

from __future__ import annotations

import collections
import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from rollout.platforms.local.fleet import LocalFleet
from rollout.platforms.local.haproxy import (
    LocalPlatformError,
    await_haproxy_api,
    haproxy_binary,
    log_offset,
    spawn_haproxy,
)
from rollout.platforms.local.health import HaproxyHealth
from rollout.platforms.local.platform import local_down, local_up
from rollout.platforms.local.processes import alive, stop
from rollout.platforms.local.router import HaproxyRouter
from rollout.platforms.local.runtime_api import RuntimeApi
from rollout.platforms.local.state import LocalState
from shipyard.config.load import StackSources, load_stack
from shipyard.config.model import Color
from tests.conftest import CliResult, snapshot
from tests.drills import squatting

BLUE, GREEN = Color.BLUE, Color.GREEN


def wait_for(condition: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture
def running(project: StackSources) -> Iterator[LocalState]:
    state = local_up(project, "dev").state
    try:
        yield state
    finally:
        local_down(project, "dev")


def all_pids(state: LocalState) -> list[int]:
    pids = [state.haproxy_pid] + [s.pid for svc in state.services for s in svc.servers]
    return [p for p in pids if p]


def test_up_then_down_leaves_no_process_and_no_socket(
    project: StackSources, cli: Callable[..., CliResult]
) -> None:
    result = cli("local", "up", "dev", "--format", "json", project=project)
    assert result.code == 0, result
    status = json.loads(result.out)
    state = LocalState.load(project.root, "dev")
    assert state is not None
    pids = all_pids(state)
    assert len(pids) == 1 + 4  # HAProxy, and web + api with one process per color
    assert all(alive(pid) for pid in pids)
    assert state.socket.exists()
    assert [s["name"] for s in status["services"]] == ["web", "api"]
    web = status["services"][0]
    assert set(web) >= {"name", "url", "test_url", "active_color", "weights", "versions", "health"}
    assert web["active_color"] == "green"
    assert web["weights"] == {"blue": 0, "green": 100}
    assert web["versions"] == {"blue": "v1", "green": "v2"}
    assert {h["haproxy"].split()[0] for h in web["health"]} == {"UP"}

    down = cli("local", "down", "dev", project=project)
    assert down.code == 0
    assert not any(alive(pid) for pid in pids)
    assert not state.socket.exists()
    assert LocalState.load(project.root, "dev") is None
    again = cli("local", "down", "dev", project=project)
    assert again.code == 0
    assert "nothing running" in again.err


def test_up_twice_doubles_nothing(project: StackSources, running: LocalState) -> None:
    second = local_up(project, "dev")
    assert second.started is False
    assert all_pids(second.state) == all_pids(running)
    web = running.service("web")
    assert httpx.get(f"{web.url}/version").json() == {"version": "v2", "color": "green"}


def test_production_reaches_the_live_color_and_test_reaches_the_idle_one(
    running: LocalState,
) -> None:
    web = running.service("web")
    for _ in range(5):
        response = httpx.get(f"{web.url}/version")
        assert response.headers["X-App-Version"] == "v2"
    assert httpx.get(f"{web.test_url}/version").json() == {"version": "v1", "color": "blue"}


def test_weights_change_the_split_measurably(running: LocalState) -> None:
    web = running.service("web")
    router = HaproxyRouter(RuntimeApi(running.socket), web)
    router.set_weights({BLUE: 80, GREEN: 20})
    assert router.verify({BLUE: 80, GREEN: 20})
    with httpx.Client() as client:
        seen = collections.Counter(
            client.get(f"{web.url}/").headers["X-App-Version"] for _ in range(200)
        )
    # blue runs v1, green v2; HAProxy's weighted round robin is near exact: allow +-10.
    assert abs(seen["v1"] - 160) <= 10, seen
    assert abs(seen["v2"] - 40) <= 10, seen
    assert seen["v1"] + seen["v2"] == 200


def test_a_color_failing_its_health_check_gets_no_traffic_even_at_weight_100(
    project: StackSources, running: LocalState
) -> None:
    config = load_stack(project, "dev").config.service("web")
    web = running.service("web")
    api = RuntimeApi(running.socket)
    fleet = LocalFleet(running, config, project.root, extra_env={"APP_FAIL_HEALTH": "1"})
    health = HaproxyHealth(api, web)
    fleet.start(BLUE, "v3")
    wait_for(lambda: health.snapshot()[BLUE].servers[0].state.value == "down", what="blue DOWN")
    router = HaproxyRouter(api, web)
    router.set_weights({BLUE: 100, GREEN: 0})
    before = health.snapshot()
    with httpx.Client() as client:
        responses = [client.get(f"{web.url}/version") for _ in range(30)]
    window = health.over_window(before, health.snapshot())
    assert window[BLUE].requests == 0
    assert all(r.headers.get("X-App-Version") != "v3" for r in responses)
    assert {r.status_code for r in responses} == {503}  # HAProxy: no server may take it
    # Given any share, the healthy color takes everything.
    router.set_weights({BLUE: 50, GREEN: 50})
    with httpx.Client() as client:
        versions = {client.get(f"{web.url}/version").headers["X-App-Version"] for _ in range(20)}
    assert versions == {"v2"}


def test_fleet_drains_and_stops_a_color_then_restarts_it(
    project: StackSources, running: LocalState
) -> None:
    config = load_stack(project, "dev").config.service("api")
    fleet = LocalFleet(running, config, project.root)
    api = running.service("api")
    old_pid = api.slots(GREEN)[0].pid
    fleet.drain_and_stop(GREEN, timeout=5)
    assert not alive(old_pid)
    assert fleet.versions() == {BLUE: "v1", GREEN: None}
    fleet.start(GREEN, "v7")
    assert fleet.await_ready(GREEN, timeout=10)
    assert httpx.get(f"{api.test_url}/version").json() == {"version": "v7", "color": "green"}
    reloaded = LocalState.load(project.root, "dev")
    assert reloaded is not None
    assert reloaded.service("api").slots(GREEN)[0].version == "v7"


def test_bad_stack_config_starts_nothing(
    project: StackSources, cli: Callable[..., CliResult]
) -> None:
    overlay = project.overlay("dev")
    overlay.write_text(overlay.read_text().replace("desiredCount: 1", "desiredCount: 0", 1))
    before = snapshot(project.root)
    result = cli("local", "up", "dev", project=project)
    assert result.code == 2
    assert result.err.startswith("shipyard: stacks/dev.yaml: services[0].desiredCount:")
    assert snapshot(project.root) == before
    assert not (project.root / ".shipyard").exists()


def test_a_service_command_that_dies_at_start_is_reported_and_cleaned_up(
    project: StackSources, cli: Callable[..., CliResult]
) -> None:
    overlay = project.overlay("dev")
    overlay.write_text(
        overlay.read_text().replace(
            "  - name: api\n",
            '  - name: api\n    local:\n      command: ["{python}", "-c", "raise SystemExit(4)"]\n',
        )
    )
    assert cli("stacks", "render", project=project).code == 0
    result = cli("local", "up", "dev", project=project)
    assert result.code == 1
    assert "api blue1" in result.err and "exited at start" in result.err
    kept = LocalState.load(project.root, "dev")  # its ports, for the retry; no process
    assert kept is not None and all_pids(kept) == []
    found = subprocess.run(
        ["pgrep", "-f", "examples/app/server.py"], capture_output=True, text=True, check=False
    )
    for pid in found.stdout.split():
        assert str(project.root) not in Path(f"/proc/{pid}/cmdline").read_text()


def test_haproxy_failing_to_bind_names_the_port_not_an_older_runs_alert(
    running: LocalState,
) -> None:
    web = running.service("web")
    stop(running.haproxy_pid, running.haproxy_started)
    log = running.directory / "logs" / "haproxy.log"
    with log.open("a") as older:  # what an earlier run of HAProxy logged as it went
        older.write("[ALERT]    (1) : backend 'web_test' has no server available!\n")
    with squatting(web.port):  # another program took the production port
        offset = log_offset(running)
        pid = spawn_haproxy(haproxy_binary(), running)
        with pytest.raises(LocalPlatformError) as failed:
            await_haproxy_api(running, pid, offset)
    line = str(failed.value)
    assert f"port {web.port} on 127.0.0.1 is taken by another program" in line, line
    assert "Address already in use" in line and "no server available" not in line


def test_demo_tells_the_whole_story_and_stops_everything(
    project: StackSources, cli: Callable[..., CliResult]
) -> None:
    before = snapshot(project.root / "stacks")
    result = cli("demo", "--format", "json", project=project)
    assert result.code == 0, result
    report = json.loads(result.out)
    phases = {p["name"]: p for p in report["demo"]["phases"]}
    assert [p["outcome"] for p in report["demo"]["phases"]] == [
        "up",
        "succeeded",
        "succeeded",
        "succeeded",
        "rolled-back",
    ]
    for name in ("deploy v1", "deploy v2", "roll back to v1 by hand"):
        assert phases[name]["failed"] == 0, phases[name]
    assert phases["deploy v2"]["requests"] > 1000
    assert phases["deploy v3 (30% 5xx)"]["detail"].startswith("analysis: 5xx rate")
    assert report["demo"]["instant_rollback_seconds"] < 1
    assert report["parity"]["score"] == 100.0
    assert report["ledger"]["chain_intact"] is True
    workspace = project.root / ".shipyard" / "demo"
    assert LocalState.load(workspace, "dev") is None  # stopped
    assert snapshot(project.root / "stacks") == before  # the user's files are untouched


def test_health_source_counts_5xx_per_color_over_a_window(
    project: StackSources, running: LocalState
) -> None:
    config = load_stack(project, "dev").config.service("api")
    api_service = running.service("api")
    api = RuntimeApi(running.socket)
    LocalFleet(running, config, project.root, extra_env={"APP_ERROR_RATE": "1"}).start(GREEN, "v9")
    health = HaproxyHealth(api, api_service)
    wait_for(lambda: health.snapshot()[GREEN].ready, what="green UP")
    HaproxyRouter(api, api_service).set_weights({BLUE: 50, GREEN: 50})
    before = health.snapshot()
    with httpx.Client() as client:
        codes = collections.Counter(
            client.get(f"{api_service.url}/").status_code for _ in range(40)
        )
    window = health.over_window(before, health.snapshot())
    assert codes == {200: 20, 500: 20}
    assert (window[GREEN].requests, window[GREEN].http_5xx) == (20, 20)
    assert (window[BLUE].requests, window[BLUE].http_5xx) == (20, 0)
