"""Whose lock is live, on both ledgers (SQLite, and S3 on a moto server): a lock from another
host (a CI runner, a teammate's laptop) holds until its lease expires, whatever its pid means
here; a lock from this host holds exactly while its process runs."""

from __future__ import annotations

import datetime as dt
import json
import socket
import sqlite3
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest

from rollout.ledger import Ledger, Lock, LockHeld, SqliteLedger
from rollout.ledger_s3 import S3Ledger
from tests.integration.test_ledger_contract import s3_env

__all__ = ["s3_env"]  # the fixture: an S3 ledger's URL on the module's moto server
pytestmark = pytest.mark.usefixtures("calls_within_policy")

ELSEWHERE = "ci-runner-7"


@pytest.fixture(params=["sqlite", "s3"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Ledger:
    if request.param == "sqlite":
        return SqliteLedger(tmp_path / "ledger.db")
    return S3Ledger(request.getfixturevalue("s3_env"))


def dead_pid() -> int:
    """A pid whose process has exited (and been reaped)."""
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(finished.stdout)


def plant(ledger: Ledger, host: str, pid: int, lease_minutes: float) -> Lock:
    """Write prod's lock as another deploy would have: its host, pid and lease."""
    now = dt.datetime.now(dt.UTC)
    lock = Lock(
        "prod",
        f"deploy on {host}",
        host,
        pid,
        (now - dt.timedelta(minutes=20)).isoformat(timespec="seconds"),
        (now + dt.timedelta(minutes=lease_minutes)).isoformat(timespec="seconds"),
    )
    ledger.release(ledger.acquire("prod", "setting up"))  # the backend's storage exists
    if isinstance(ledger, SqliteLedger):
        with sqlite3.connect(ledger.path) as db:
            db.execute("INSERT INTO locks VALUES (?, ?, ?, ?, ?, ?)", tuple(asdict(lock).values()))
    else:
        assert isinstance(ledger, S3Ledger)
        key = ledger._key("locks", "prod.json")
        ledger.s3.put_object(Bucket=ledger.bucket, Key=key, Body=json.dumps(asdict(lock)).encode())
    assert ledger.lock("prod") == lock
    return lock


def test_another_hosts_lock_holds_while_its_lease_runs(ledger: Ledger) -> None:
    # Its pid means nothing here (no such process on this host): only the lease counts.
    held = plant(ledger, ELSEWHERE, dead_pid(), lease_minutes=5)
    with pytest.raises(LockHeld, match=f"prod is locked by deploy on {ELSEWHERE}"):
        ledger.acquire("prod", "ada deploying web@v2")
    assert ledger.lock("prod") == held


def test_another_hosts_lock_is_taken_over_once_its_lease_expired(ledger: Ledger) -> None:
    plant(ledger, ELSEWHERE, 1, lease_minutes=-1)  # pid 1 runs here, on another host it is moot
    mine = ledger.acquire("prod", "ada deploying web@v2")
    assert (mine.holder, mine.host) == ("ada deploying web@v2", socket.gethostname())
    assert ledger.lock("prod") == mine


def test_this_hosts_lock_holds_while_its_process_runs_whatever_its_lease(ledger: Ledger) -> None:
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as holder:
        try:
            plant(ledger, socket.gethostname(), holder.pid, lease_minutes=-1)
            with pytest.raises(LockHeld, match=f"pid {holder.pid}"):
                ledger.acquire("prod", "ada deploying web@v2")
        finally:
            holder.kill()
    holder.wait()
    assert ledger.acquire("prod", "ada deploying web@v2").pid != holder.pid


def test_this_hosts_lock_from_a_dead_process_is_taken_over_within_its_lease(
    ledger: Ledger,
) -> None:
    plant(ledger, socket.gethostname(), dead_pid(), lease_minutes=5)
    assert ledger.acquire("prod", "ada deploying web@v2").holder == "ada deploying web@v2"
