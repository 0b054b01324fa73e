"""Faults on the local platform, end to end with real HAProxy and processes: a rollout that
pauses, HAProxy killed mid-rollout and while idle, two `local up` at once, a read-only
.shipyard, and a port taken from under the idle color.

Given dev running locally: web live on green v2 (blue v1 warm), api live on blue v1, with
50/100% steps and 1 s bakes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml

from rollout.ledger import SqliteLedger
from rollout.platforms.local.fleet import LocalFleet
from rollout.platforms.local.platform import local_down, local_up
from rollout.platforms.local.processes import alive
from rollout.platforms.local.state import LocalState
from shipyard.config.load import StackSources, load_stack
from shipyard.config.model import Color
from shipyard.stacks import plan_stack_files, write_stack_files
from tests.drills import SHIPYARD, shipyard, squatting


def configure(project: StackSources, analysis: dict[str, Any]) -> None:
    overlay = project.overlay("dev")
    doc: dict[str, Any] = yaml.safe_load(overlay.read_text())
    doc["deploy"] = {
        "trafficSteps": [50, 100],
        "bakeSeconds": 1,
        "readyTimeoutSeconds": 30,
        "scaleDownDelaySeconds": 300,
        "analysis": analysis,
    }
    overlay.write_text(yaml.safe_dump(doc))
    write_stack_files(project, plan_stack_files(project))


@pytest.fixture
def dev(project: StackSources) -> Iterator[StackSources]:
    """Analysis passes without traffic (minRequests 0)."""
    configure(project, {"minRequests": 0, "onInconclusive": "fail"})
    try:
        yield project
    finally:
        local_down(project, "dev")


def state_of(project: StackSources) -> LocalState:
    state = LocalState.load(project.root, "dev")
    assert state is not None
    return state


def serving(project: StackSources, service: str = "web") -> str:
    """The version production traffic reaches now."""
    url = state_of(project).service(service).url
    return str(httpx.get(f"{url}/version", timeout=5).json()["version"])


def status(project: StackSources) -> dict[str, Any]:
    result = shipyard(project, "status", "dev", "--format", "json")
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def one_line_error(result: subprocess.CompletedProcess[str], code: int) -> str:
    assert result.returncode == code, result
    assert "Traceback" not in result.stderr, result.stderr
    # Progress lines (one per step) go to stderr too; the error is one line, the last.
    errors = [line for line in result.stderr.splitlines() if line.startswith("shipyard:")]
    assert len(errors) == 1 and result.stderr.strip().endswith(errors[0]), result.stderr
    return errors[0]


def test_rollback_undoes_a_paused_rollout_and_a_new_deploy_waits_for_it(
    project: StackSources,
) -> None:
    configure(project, {"minRequests": 50, "onInconclusive": "pause"})
    try:
        local_up(project, "dev")
        # Nobody uses web: every analysis window is inconclusive and the rollout pauses.
        paused = shipyard(project, "deploy", "dev", "--service", "web", "--version", "v3")
        assert "deploy paused: analysis inconclusive" in one_line_error(paused, 1)
        [rollout] = status(project)["rollouts"]
        assert (rollout["state"], rollout["version"]) == ("paused", "v3")

        refused = shipyard(project, "deploy", "dev", "--service", "web", "--version", "v4")
        assert "dev has a paused rollout of web@v3" in one_line_error(refused, 1)
        other = shipyard(project, "deploy", "dev", "--resume", "--service", "api")
        assert "`shipyard deploy dev --resume --service web`" in one_line_error(other, 1)
        assert status(project)["rollouts"][-1]["state"] == "paused"  # not carried on

        undone = shipyard(project, "rollback", "dev", "--service", "web")
        assert undone.returncode == 0, undone
        assert "rolled-back: rolled back by hand after the rollout paused" in undone.stdout
        web = next(s for s in status(project)["local"]["services"] if s["name"] == "web")
        assert web["active_color"] == "green" and web["weights"] == {"blue": 0, "green": 100}
        assert {h["color"]: h["process"] for h in web["health"]}["blue"] == "stopped"
        assert status(project)["rollouts"][-1]["state"] == "rolled-back"
        assert serving(project) == "v2"
    finally:
        local_down(project, "dev")


def test_haproxy_killed_mid_rollout_fails_cleanly_and_rollback_restores_the_ledger(
    dev: StackSources,
) -> None:
    local_up(dev, "dev")
    live = shipyard(dev, "deploy", "dev", "--service", "web", "--version", "v4")
    assert live.returncode == 0, live
    assert serving(dev) == "v4"  # on blue; the stack file still says green v2

    ledger = SqliteLedger(dev.root / ".shipyard" / "ledger.db")
    seen = len(ledger.events("dev"))
    # Held 3 s inside step 4 (the 50% shift), before it acts: HAProxy dies meanwhile.
    hold = {"SHIPYARD_HOLD_AT_STEP": "3", "SHIPYARD_HOLD_SECONDS": "3"}
    argv = [SHIPYARD, "--project-dir", str(dev.root), "deploy", "dev", "--service", "web"]
    deploying = subprocess.Popen(
        [*argv, "--version", "v5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **hold},
    )
    deadline = time.monotonic() + 60
    while not any(
        e.kind == "step-started" and e.data["index"] == 3 for e in ledger.events("dev")[seen:]
    ):
        assert time.monotonic() < deadline and deploying.poll() is None
        time.sleep(0.01)
    os.kill(state_of(dev).haproxy_pid or 0, signal.SIGKILL)
    out, err = deploying.communicate(timeout=60)
    failed = subprocess.CompletedProcess(deploying.args, deploying.returncode, out, err)
    line = one_line_error(failed, 1)
    assert line.startswith("shipyard: deploy failed: platform: HAProxy is not answering"), line
    assert "shipyard rollback dev --service web" in line
    assert ledger.events("dev")[-1].data["status"] == "failed"
    assert status(dev)["rollouts"][-1]["state"] == "failed"

    undone = shipyard(dev, "rollback", "dev", "--service", "web")
    assert undone.returncode == 0, undone
    assert "rolled back by hand after the rollout failed" in undone.stdout
    assert serving(dev) == "v4"  # what the ledger says is live, not the stack file's v2
    web = next(s for s in status(dev)["local"]["services"] if s["name"] == "web")
    assert web["active_color"] == "blue" and web["weights"] == {"blue": 100, "green": 0}
    assert {h["color"]: h["process"] for h in web["health"]}["green"] == "stopped"
    assert status(dev)["rollouts"][-1]["state"] == "rolled-back"


def test_after_haproxy_died_local_up_and_rollback_start_from_what_the_ledger_says(
    dev: StackSources,
) -> None:
    local_up(dev, "dev")
    assert shipyard(dev, "deploy", "dev", "--service", "web", "--version", "v4").returncode == 0
    url = state_of(dev).service("web").url
    os.kill(state_of(dev).haproxy_pid or 0, signal.SIGKILL)

    restarted = shipyard(dev, "local", "up", "dev", "--format", "json")
    assert restarted.returncode == 0, restarted
    web = next(s for s in json.loads(restarted.stdout)["services"] if s["name"] == "web")
    assert web["active_color"] == "blue" and web["versions"] == {"blue": "v4", "green": "v2"}
    assert serving(dev) == "v4"
    assert serving(dev, "api") == "v1"  # never deployed: as its stack file declares it
    assert state_of(dev).service("web").url == url  # same ports: users find it where it was

    # Dead again, and someone rolls back: back up as recorded, then flipped to v2.
    os.kill(state_of(dev).haproxy_pid or 0, signal.SIGKILL)
    flipped = shipyard(dev, "rollback", "dev", "--service", "web")
    assert flipped.returncode == 0, flipped
    assert serving(dev) == "v2"


def running_pids(project: StackSources) -> set[int]:
    """Every process whose command line names this project (HAProxy's config, the apps)."""
    mine = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                words = handle.read().split(b"\0")
            with open(f"/proc/{entry}/environ", "rb") as handle:
                environment = handle.read()
        except OSError:
            continue
        named = any(str(project.root).encode() in word for word in words)
        if (named or str(project.root).encode() in environment) and alive(int(entry)):
            mine.add(int(entry))
    return mine


def test_two_local_up_at_once_leave_nothing_local_down_cannot_see(dev: StackSources) -> None:
    for attempt in range(4):
        ups = [
            subprocess.Popen(
                [SHIPYARD, "--project-dir", str(dev.root), "local", "up", "dev"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        results = [(up.communicate(timeout=120)[1], up.returncode) for up in ups]
        assert [code for _, code in results] == [0, 0], (attempt, results)
        assert running_pids(dev), attempt
        down = shipyard(dev, "local", "down", "dev")
        assert down.returncode == 0, down
        deadline = time.monotonic() + 10
        while running_pids(dev) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert running_pids(dev) == set(), attempt


def test_a_read_only_shipyard_is_one_line_and_down_still_stops_everything(
    dev: StackSources,
) -> None:
    local_up(dev, "dev")
    pids = running_pids(dev)
    assert pids
    shipyard_dir = dev.root / ".shipyard"
    # root writes anywhere: drop the capabilities that let it, as an ordinary user would be.
    as_user = ["setpriv", "--inh-caps=-all", "--bounding-set=-dac_override,-fowner", "--"]
    argv = [*as_user, SHIPYARD, "--project-dir", str(dev.root), "local"]
    subprocess.run(["chmod", "-R", "a-w", str(shipyard_dir)], check=True)
    try:
        traffic = subprocess.run([*argv, "traffic", "dev"], capture_output=True, text=True)
        assert "cannot write" in one_line_error(traffic, 2)

        down = subprocess.run([*argv, "down", "dev"], capture_output=True, text=True, timeout=60)
        line = one_line_error(down, 1)
        assert "dev: stopped every process, but cannot write" in line, line
        assert "chmod -R u+w" in line
        assert not any(alive(pid) for pid in pids)

        up = subprocess.run([*argv, "up", "dev"], capture_output=True, text=True, timeout=60)
        assert "cannot write" in one_line_error(up, 2)
        assert running_pids(dev) == set()  # nothing started
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(shipyard_dir)], check=True)


def test_a_taken_port_for_the_idle_color_is_named_at_once(dev: StackSources) -> None:
    state = local_up(dev, "dev").state
    web = load_stack(dev, "dev").config.service("web")
    [idle] = state.service("web").slots(Color.BLUE)  # web is live on green
    LocalFleet(state, web, dev.root).drain_and_stop(Color.BLUE, timeout=5)
    with squatting(idle.port):  # another program takes the idle color's port
        failed = shipyard(dev, "deploy", "dev", "--service", "web", "--version", "v3")
    line = one_line_error(failed, 1)
    assert f"port {idle.port} on 127.0.0.1 is taken by another process" in line, line
    assert "never passed its health check" not in line
    assert serving(dev) == "v2"


def test_haproxy_restarting_on_a_taken_port_says_which_and_keeps_its_ports(
    dev: StackSources,
) -> None:
    state = local_up(dev, "dev").state
    web = state.service("web")
    live = [slot.pid for slot in web.slots(web.active_color)]
    os.kill(state.haproxy_pid or 0, signal.SIGKILL)
    with squatting(web.port):  # taken while HAProxy was down
        failed = shipyard(dev, "local", "up", "dev")
        line = one_line_error(failed, 1)
        assert f"port {web.port} on 127.0.0.1 (web production frontend) is taken by pid " in line
        assert f"pid {os.getpid()} (" in line, line
        assert "`shipyard local down dev` then `local up dev`" in line
        assert all(alive(pid) for pid in live)  # the live color was left alone
    # The ports are still recorded: once the port is free again, the same URLs come back.
    again = shipyard(dev, "local", "up", "dev")
    assert again.returncode == 0, again
    assert state_of(dev).service("web").url == web.url
    assert serving(dev) == "v2"


def haproxy_pids(project: StackSources) -> list[int]:
    """HAProxys running this project's dev config (`haproxy -db -f <root>/.../haproxy.cfg`)."""
    config = str(project.root / ".shipyard" / "local" / "dev" / "haproxy.cfg").encode()
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                words = handle.read().split(b"\0")
        except OSError:
            continue
        if (
            words[0].endswith(b"haproxy")
            and b"-db" in words
            and config in words
            and alive(int(entry))
        ):
            found.append(int(entry))
    return found


def up_killed_as_haproxy_starts(project: StackSources, how: signal.Signals) -> None:
    """`local up` in its own process, sent `how` the moment HAProxy's process appears."""
    up = subprocess.Popen(
        [SHIPYARD, "--project-dir", str(project.root), "local", "up", "dev"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not haproxy_pids(project):
        assert up.poll() is None and time.monotonic() < deadline, "HAProxy never started"
        time.sleep(0.005)
    up.send_signal(how)
    up.wait(timeout=60)


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT, signal.SIGTERM])
def test_local_up_killed_as_haproxy_starts_leaves_nothing_unseen(
    dev: StackSources, how: signal.Signals
) -> None:
    up_killed_as_haproxy_starts(dev, how)
    # The next `up` finds what the killed one left: one HAProxy on the production port.
    again = shipyard(dev, "local", "up", "dev")
    assert again.returncode == 0, again
    assert len(haproxy_pids(dev)) == 1
    assert {serving(dev) for _ in range(8)} == {"v2"}
    assert shipyard(dev, "local", "down", "dev").returncode == 0

    up_killed_as_haproxy_starts(dev, how)
    down = shipyard(dev, "local", "down", "dev")
    assert down.returncode == 0, down
    deadline = time.monotonic() + 30
    while running_pids(dev) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert running_pids(dev) == set()


def test_rollback_undoes_the_last_rollout_once_and_only_a_rollout(
    dev: StackSources,
) -> None:
    local_up(dev, "dev")
    nothing = shipyard(dev, "rollback", "dev", "--service", "web")  # an empty ledger
    assert "nothing to roll back: web has no rollout in the dev ledger" in one_line_error(
        nothing, 1
    )
    assert serving(dev) == "v2"
    assert shipyard(dev, "deploy", "dev", "--service", "web", "--version", "v4").returncode == 0
    assert shipyard(dev, "rollback", "dev", "--service", "web").returncode == 0
    assert serving(dev) == "v2"
    again = shipyard(dev, "rollback", "dev", "--service", "web")
    line = one_line_error(again, 1)
    assert "nothing to roll back: web's last rollout (v4) was already rolled back; to go " in line
    assert "`shipyard rollback dev --service web --to V`" in line
    assert serving(dev) == "v2"  # no toggle back to v4


def test_a_color_scale_down_retired_stays_stopped_when_haproxy_restarts(
    dev: StackSources,
) -> None:
    local_up(dev, "dev")
    assert shipyard(dev, "deploy", "dev", "--service", "web", "--version", "v5").returncode == 0
    retired = shipyard(dev, "scale-down", "dev", "--service", "web", "--now")
    assert retired.returncode == 0, retired
    os.kill(state_of(dev).haproxy_pid or 0, signal.SIGKILL)
    assert shipyard(dev, "local", "up", "dev").returncode == 0
    web = next(s for s in status(dev)["local"]["services"] if s["name"] == "web")
    idle = [h for h in web["health"] if h["color"] != web["active_color"]]
    assert [(h["process"], h["haproxy"]) for h in idle] == [("stopped", "MAINT")]
    assert serving(dev) == "v5"
    # The next rollout starts the retired color again.
    assert shipyard(dev, "deploy", "dev", "--service", "web", "--version", "v6").returncode == 0
    assert serving(dev) == "v6"
