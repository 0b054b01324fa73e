"""Crash drills: a real `shipyard deploy` process held inside one step, to kill it there."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rollout.ledger import SqliteLedger

SHIPYARD = str(Path(sys.executable).parent / "shipyard")


@contextmanager
def deploy_held_at_step(
    project: Path,
    ledger: SqliteLedger,
    index: int,
    *args: str,
    environment: str = "dev",
    hold_seconds: float = 60,
) -> Iterator[subprocess.Popen[bytes]]:
    """`shipyard deploy ENVIRONMENT ARGS...` in its own process, waiting inside step `index`
    (SHIPYARD_HOLD_AT_STEP) for `hold_seconds` once that step is in the ledger; SIGKILLed on
    leaving unless it has ended."""
    seen = len(ledger.events(environment)) if ledger.path.exists() else 0
    process = subprocess.Popen(
        [SHIPYARD, "--project-dir", str(project), "deploy", environment, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={
            **os.environ,
            "SHIPYARD_HOLD_AT_STEP": str(index),
            "SHIPYARD_HOLD_SECONDS": f"{hold_seconds:g}",
        },
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            events = ledger.events(environment)[seen:] if ledger.path.exists() else []
            if any(e.kind == "step-started" and e.data["index"] == index for e in events):
                break
            assert process.poll() is None, f"the deploy ended before step {index}"
            time.sleep(0.005)
        else:
            raise AssertionError(f"step {index} never started")
        yield process
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
