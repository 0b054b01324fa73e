"""Reading the ledger never writes (issue 12, item 10); a ledger that cannot be opened is one
line, not a traceback (item 9); `status` says when a lock is stale (item 11)."""

from __future__ import annotations

import datetime as dt
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from rollout.ledger import SqliteLedger
from shipyard.config.load import StackSources
from tests.conftest import CliResult, snapshot

READERS = (
    ("ledger", "verify"),
    ("status", "dev"),
    ("ledger", "history"),
    ("metrics",),
    ("deploy", "dev", "--resume"),  # refused: nothing to resume
)


def one_line(result: CliResult) -> str:
    assert result.err.count("\n") == 1 and "Traceback" not in result.err, result
    return result.err


@pytest.mark.parametrize("args", READERS, ids=" ".join)
def test_a_reader_leaves_a_project_without_a_ledger_untouched(
    args: tuple[str, ...], project: StackSources, cli: Callable[..., CliResult]
) -> None:
    before = snapshot(project.root)
    result = cli(*args, project=project)
    assert result.code == (2 if "--resume" in args else 0), result
    assert snapshot(project.root) == before
    assert not (project.root / ".shipyard").exists()


@pytest.mark.parametrize("args", READERS, ids=" ".join)
def test_a_reader_leaves_an_existing_ledger_byte_identical(
    args: tuple[str, ...], project: StackSources, cli: Callable[..., CliResult]
) -> None:
    ledger = SqliteLedger(project.root / ".shipyard" / "ledger.db")
    ledger.append("dev", "check", {"index": 1})
    before = snapshot(project.root)
    result = cli(*args, project=project)
    assert result.code == (2 if "--resume" in args else 0), result
    assert snapshot(project.root) == before  # no -wal, -shm or journal left behind either


@pytest.mark.parametrize("args", READERS[:4], ids=" ".join)
def test_a_mistyped_ledger_path_is_named_not_created(
    args: tuple[str, ...], project: StackSources, cli: Callable[..., CliResult]
) -> None:
    before = snapshot(project.root)
    typo = project.root / ".shipyard" / "ledgr.db"
    result = cli(*args, "--ledger", str(typo), project=project)
    assert result.code == 2
    assert one_line(result) == (
        f"shipyard: no ledger at {typo}: check the path (--ledger, $SHIPYARD_LEDGER or "
        "`ledger:` in the stack config)\n"
    )
    assert snapshot(project.root) == before


@pytest.mark.parametrize("args", READERS[:4], ids=" ".join)
def test_a_truncated_ledger_is_one_line(
    args: tuple[str, ...], project: StackSources, cli: Callable[..., CliResult]
) -> None:
    ledger = SqliteLedger(project.root / ".shipyard" / "ledger.db")
    for index in range(20):
        ledger.append("dev", "check", {"index": index, "padding": "x" * 200})
    ledger.path.write_bytes(ledger.path.read_bytes()[:5000])
    result = cli(*args, project=project)
    line = one_line(result)
    if args in (("ledger", "verify"), ("metrics",)):  # a damaged file fails verification
        assert result.code == 1, result
        assert line.startswith(f"shipyard: the ledger at {ledger.path} fails verification")
        assert "docs/runbook.md" in line
        return
    assert result.code == 2, result
    assert line.startswith(f"shipyard: cannot use the ledger at {ledger.path} (")
    assert "restore the file from a backup" in line


def test_a_ledger_path_that_cannot_exist_is_one_line(
    project: StackSources, cli: Callable[..., CliResult]
) -> None:
    read = cli("ledger", "verify", "--ledger", "/proc/nope/x.db", project=project)
    assert read.code == 2
    assert one_line(read).startswith("shipyard: no ledger at /proc/nope/x.db: check the path")
    write = cli(
        "approve", "prod", "--release", "web@v2#3f9c2e1", "--by", "bob",
        "--ledger", "/proc/nope/x.db", project=project,
    )  # fmt: skip
    assert write.code == 2
    assert one_line(write).startswith(
        "shipyard: no ledger at /proc/nope/x.db and no folder /proc/nope to start one in"
    )


def test_status_says_a_dead_holders_lock_is_stale(
    tmp_path: Path, project: StackSources, cli: Callable[..., CliResult]
) -> None:
    path = tmp_path / "ledger.db"
    code = (
        "from pathlib import Path; from rollout.ledger import SqliteLedger; "
        f"SqliteLedger(Path({str(path)!r})).acquire('dev', 'crashed deploy')"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)  # exits holding it
    status = cli("status", "dev", "--ledger", str(path), project=project)
    assert status.code == 0, status
    lock_line = status.out.splitlines()[-1]
    assert lock_line.startswith("lock: crashed deploy (pid ")
    assert lock_line.endswith(
        ": stale (its process is gone); the next deploy or rollback takes it over"
    )


def test_status_says_a_remote_lock_whose_lease_expired_is_stale(
    tmp_path: Path, project: StackSources, cli: Callable[..., CliResult]
) -> None:
    ledger = SqliteLedger(tmp_path / "ledger.db")
    ledger.release(ledger.acquire("dev", "setup"))  # the file and its tables
    expired = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)).isoformat(timespec="seconds")
    with sqlite3.connect(ledger.path) as db:
        db.execute(
            "INSERT INTO locks VALUES ('dev', 'ci deploying web@v3', 'runner-7', 4242, ?, ?)",
            (expired, expired),
        )
    status = cli("status", "dev", "--ledger", str(ledger.path), project=project)
    assert status.out.splitlines()[-1] == (
        f"lock: ci deploying web@v3 (pid 4242 on runner-7) since {expired}: stale (its lease "
        f"expired at {expired}); the next deploy or rollback takes it over"
    )


def test_copying_from_a_mistyped_ledger_creates_nothing(
    tmp_path: Path, project: StackSources, cli: Callable[..., CliResult]
) -> None:
    before = snapshot(tmp_path)
    copied = cli("ledger", "copy", str(tmp_path / "typo.db"), str(tmp_path / "new.db"))
    assert copied.code == 2
    assert one_line(copied).startswith(f"shipyard: no ledger at {tmp_path / 'typo.db'}")
    assert snapshot(tmp_path) == before
