"""Crash drills: a real `shipyard deploy` process held inside one step, to kill it there.

Two places to hold step N (rollout.executor): SHIPYARD_HOLD_AT_STEP, once `step-started` is in
the ledger and before the step acts; SHIPYARD_HOLD_AFTER_STEP, once the step has acted and
before `step-finished`.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rollout.executor import HOLD_AFTER_STEP, HOLD_AT_STEP, HOLD_SECONDS
from rollout.ledger import Event, SqliteLedger
from shipyard.config.load import StackSources

SHIPYARD = str(Path(sys.executable).parent / "shipyard")


def shipyard(
    project: StackSources, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`shipyard --project-dir PROJECT ARGS...` as its own process, as a person would run it."""
    return subprocess.run(
        [SHIPYARD, "--project-dir", str(project.root), *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env={**os.environ, **(env or {})},
    )


@contextmanager
def deploy_held_at_step(
    project: Path,
    ledger: SqliteLedger,
    index: int,
    *args: str,
    environment: str = "dev",
    hold_seconds: float = 60,
    env: dict[str, str] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """`shipyard deploy ENVIRONMENT ARGS...` in its own process, waiting inside step `index`
    (SHIPYARD_HOLD_AT_STEP) for `hold_seconds` once that step is in the ledger; SIGKILLed on
    leaving unless it has ended. `env` is added to the process's environment."""
    with _held_deploy(
        project,
        ledger,
        (HOLD_AT_STEP, index),
        args,
        environment,
        lambda events: True,
        hold_seconds,
        env,
    ) as process:
        yield process


@contextmanager
def deploy_held_after_effect(
    project: Path,
    ledger: SqliteLedger,
    index: int,
    *args: str,
    environment: str = "dev",
    env: dict[str, str] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Like deploy_held_at_step, held once step `index` has acted (SHIPYARD_HOLD_AFTER_STEP)
    and before `step-finished`: for a step whose effect ends in a weight change (`prepare`
    sets the test router, `shift` the production one), seen as `weights-set` in the ledger."""

    def acted(events: list[Event]) -> bool:
        return any(e.kind == "weights-set" for e in events)

    hold = (HOLD_AFTER_STEP, index)
    with _held_deploy(project, ledger, hold, args, environment, acted, env=env) as held:
        yield held


@contextmanager
def _held_deploy(
    project: Path,
    ledger: SqliteLedger,
    hold: tuple[str, int],
    args: tuple[str, ...],
    environment: str,
    reached: Callable[[list[Event]], bool],
    hold_seconds: float = 60,
    env: dict[str, str] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start the deploy holding at `hold`; yield once step `hold[1]` has started and
    `reached(the events since)` says the hold is near; SIGKILL it on leaving."""
    variable, index = hold
    seen = len(ledger.events(environment)) if ledger.path.exists() else 0
    process = subprocess.Popen(
        [SHIPYARD, "--project-dir", str(project), "deploy", environment, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={
            **os.environ,
            **(env or {}),
            variable: str(index),
            HOLD_SECONDS: f"{hold_seconds:g}",
        },
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            events = ledger.events(environment)[seen:] if ledger.path.exists() else []
            began = next(
                (
                    position
                    for position, e in enumerate(events)
                    if e.kind == "step-started" and e.data["index"] == index
                ),
                None,
            )
            if began is not None and reached(events[began + 1 :]):
                break
            ended = [e.data for e in events if e.kind == "outcome"]
            assert process.poll() is None, f"the deploy ended before step {index}: {ended}"
            time.sleep(0.005)
        else:
            raise AssertionError(f"step {index} never reached its hold")
        yield process
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)


@contextmanager
def squatting(port: int) -> Iterator[None]:
    """Another program listening on 127.0.0.1:port, once the process that had it let go."""
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        deadline = time.monotonic() + 10
        while True:
            try:
                squatter.bind(("127.0.0.1", port))
                break
            except OSError:
                assert time.monotonic() < deadline, f"port {port} never came free"
                time.sleep(0.02)
        squatter.listen()
        yield


def assert_killed_after_acting(
    ledger: SqliteLedger, rollout: dict[str, Any], index: int, router: str
) -> None:
    """`rollout` (from `status --format json`) was killed inside step `index` once the step had
    acted: interrupted there, its last weights set on `router`, the step never finished."""
    assert rollout["state"] == "interrupted"
    assert rollout["last_step"] == index
    mine = ledger.events("dev", rollout=rollout["rollout"])
    assert [e.data["router"] for e in mine if e.kind == "weights-set"][-1] == router
    assert not any(e.kind == "step-finished" and e.data["index"] == index for e in mine)


def recover_after_kill(
    run: Callable[..., subprocess.CompletedProcess[str]],
    state: Callable[[], str],
    index: int,
) -> None:
    """After a deploy killed in step `index`: a new deploy is refused naming `--resume`; then
    `deploy --resume` (even steps) or `rollback` (odd steps) ends the rollout, as `state()`
    (the last rollout's state in `status`) says. `run(*args)` runs shipyard on the platform."""
    refused = run("deploy", "dev", "--version", "v99", "--service", "api")
    assert refused.returncode == 1 and "--resume" in refused.stderr, refused.stderr
    if index % 2 == 0:
        finished = run("deploy", "dev", "--resume")
        assert finished.returncode == 0, (index, finished.stderr)
        assert state() == "succeeded"
    else:
        undone = run("rollback", "dev")
        assert undone.returncode == 0, (index, undone.stderr)
        assert state() == "rolled-back", (index, undone.stderr)
