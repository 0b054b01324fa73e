"""The ledger: append-only, hash-chained (tampering is caught), and a per-environment lock."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from rollout.ledger import LockHeld, SqliteLedger
from shipyard.config.load import StackSources
from tests.conftest import CliResult


@pytest.fixture
def ledger(tmp_path: Path) -> SqliteLedger:
    ledger = SqliteLedger(tmp_path / "ledger.db")
    for index in range(5):
        ledger.append("dev", "check", {"index": index, "rate": 0.01 * index}, rollout="r1")
    return ledger


def sql(ledger: SqliteLedger, statement: str) -> None:
    with sqlite3.connect(ledger.path) as db:
        db.execute(statement)


def test_an_intact_chain_verifies(ledger: SqliteLedger) -> None:
    assert ledger.verify() == []
    assert [e.seq for e in ledger.events()] == [1, 2, 3, 4, 5]
    assert ledger.events()[1].prev_hash == ledger.events()[0].hash


def test_an_edited_event_is_caught(ledger: SqliteLedger) -> None:
    sql(ledger, """UPDATE events SET data = '{"index": 2, "rate": 0.0}' WHERE seq = 3""")
    assert ledger.verify() == ["event 3 (check): content does not match its hash"]


def test_a_deleted_event_is_caught(ledger: SqliteLedger) -> None:
    sql(ledger, "DELETE FROM events WHERE seq = 2")
    assert ledger.verify() == [
        "event 2: missing (next is 3)",
        "event 3: does not follow the event before it",
    ]


def test_reordered_events_are_caught(ledger: SqliteLedger) -> None:
    sql(ledger, "UPDATE events SET seq = 100 WHERE seq = 2")
    sql(ledger, "UPDATE events SET seq = 2 WHERE seq = 4")
    sql(ledger, "UPDATE events SET seq = 4 WHERE seq = 100")
    problems = ledger.verify()
    assert "event 2 (check): content does not match its hash" in problems
    assert any(p.startswith("event 3: does not follow") for p in problems)


def test_ledger_verify_command(
    ledger: SqliteLedger, cli: Callable[..., CliResult], repo_sources: StackSources
) -> None:
    ok = cli("ledger", "verify", "--ledger", str(ledger.path), project=repo_sources)
    assert ok.code == 0
    assert "5 events, chain intact" in ok.out
    sql(ledger, "DELETE FROM events WHERE seq = 5")
    sql(ledger, """UPDATE events SET actor = 'mallory' WHERE seq = 1""")
    bad = cli("ledger", "verify", "--ledger", str(ledger.path), project=repo_sources)
    assert bad.code == 1
    assert "event 1 (check): content does not match its hash" in bad.out
    assert bad.err.startswith("shipyard: the ledger at")


def test_a_second_deploy_is_refused_naming_the_holder(tmp_path: Path) -> None:
    ledger = SqliteLedger(tmp_path / "ledger.db")
    held = ledger.acquire("prod", "ada deploying web@v2")
    with pytest.raises(LockHeld) as refused:
        ledger.acquire("prod", "bob deploying web@v3")
    message = str(refused.value)
    assert message.startswith(f"prod is locked by ada deploying web@v2 (pid {held.pid}")
    assert f"since {held.since}" in message
    assert refused.value.exit_code == 1
    ledger.acquire("staging", "bob deploying web@v3")  # other environments are free
    ledger.release(held)
    ledger.acquire("prod", "bob deploying web@v3")


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    code = (
        "import sys; from pathlib import Path; from rollout.ledger import SqliteLedger; "
        f"SqliteLedger(Path({str(path)!r})).acquire('dev', 'crashed deploy')"
    )
    subprocess.run([sys.executable, "-c", code], check=True)  # exits holding the lock
    ledger = SqliteLedger(path)
    stale = ledger.lock("dev")
    assert stale is not None and stale.holder == "crashed deploy"
    mine = ledger.acquire("dev", "next deploy")
    assert mine.holder == "next deploy"
