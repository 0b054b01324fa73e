"""What an attacker tried on the keyed ledger after issue 12 (ledger items 2-7): a re-signed
ledger, tracebacks on damaged files, a head file that hangs or floods a reader, a mistyped
path that starts a new ledger, a refused command that leaves a key behind."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from rollout.ledger import SqliteLedger
from rollout.ledger_head import key_path, sign
from shipyard.config.load import StackSources
from tests.conftest import CliResult, snapshot

RELEASE = ("--release", "web@v2#3f9c2e1", "--by", "bob")


@pytest.fixture
def ledger(tmp_path: Path) -> SqliteLedger:
    ledger = SqliteLedger(tmp_path / "ledger.db")
    for index in range(3):
        ledger.append("dev", "check", {"index": index}, rollout="r1")
    return ledger


@pytest.fixture
def no_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A machine that has never written a ledger: no key file, no $SHIPYARD_LEDGER_KEY."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "fresh-config"))
    return key_path()


def one_line(result: CliResult) -> str:
    assert result.err.count("\n") == 1 and "Traceback" not in result.err, result
    return result.err


def test_a_ledger_re_signed_with_another_key_is_not_blamed_on_setup(ledger: SqliteLedger) -> None:
    last = ledger.events()[-1]
    ledger.head_path.write_bytes(sign(b"mallory's very own key", last.seq, last.hash).to_json())
    (problem,) = ledger.verify()
    assert problem.startswith("the head checkpoint was signed with another key (")
    assert "either this machine lacks the writers' key or someone re-signed the ledger" in problem
    assert problem.endswith("otherwise the ledger was re-signed: restore it, never --accept-head")


def test_accepting_the_head_without_a_key_never_makes_one(
    ledger: SqliteLedger, no_key: Path, cli: Callable[..., CliResult], project: StackSources
) -> None:
    before = snapshot(ledger.path.parent)
    accept = ("ledger", "verify", "--accept-head", "--by", "oncall", "--ledger", str(ledger.path))
    refused = cli(*accept, project=project)
    assert refused.code == 2, refused
    assert one_line(refused).startswith(f"shipyard: no ledger key here ({no_key} or ")
    assert not no_key.exists()
    assert snapshot(ledger.path.parent) == before


def test_a_verified_ledger_shows_the_key_fingerprint(
    ledger: SqliteLedger, cli: Callable[..., CliResult], project: StackSources
) -> None:
    from rollout.ledger_head import fingerprint, ledger_key

    key = ledger_key(create=False)
    assert key is not None
    verified = cli("ledger", "verify", "--ledger", str(ledger.path), project=project)
    assert verified.out.endswith(
        f"3 events, chain intact, head checkpoint matches (key fingerprint {fingerprint(key)})\n"
    )


def test_an_events_table_of_another_shape_fails_verification_in_one_line(
    tmp_path: Path, cli: Callable[..., CliResult], project: StackSources
) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE events (seq INTEGER, what TEXT)")
        db.execute("INSERT INTO events VALUES (1, 'x')")
    verified = cli("ledger", "verify", "--ledger", str(path), project=project)
    assert verified.code == 1, verified
    assert f"{path} is damaged (its events table has the columns seq, what)" in verified.out
    assert one_line(verified).startswith(f"shipyard: the ledger at {path} fails verification")
    history = cli("ledger", "history", "--ledger", str(path), project=project)
    assert history.code == 2
    assert one_line(history).startswith(f"shipyard: cannot use the ledger at {path} (its events")


@pytest.mark.parametrize("damage", ["'not json'", "x'ff00'"])
def test_a_damaged_row_is_one_line_for_every_reader(
    damage: str, ledger: SqliteLedger, cli: Callable[..., CliResult], project: StackSources
) -> None:
    with sqlite3.connect(ledger.path) as db:
        db.execute(f"UPDATE events SET data = {damage} WHERE seq = 1")
    where = ("--ledger", str(ledger.path))
    verified = cli("ledger", "verify", *where, project=project)
    assert verified.code == 1 and "event 1: damaged (its data is not " in verified.out, verified
    one_line(verified)
    history = cli("ledger", "history", *where, project=project)
    assert history.code == 2
    assert "(event 1 is damaged: its data is not " in one_line(history)


@pytest.mark.parametrize("head", ["/dev/zero", "huge"])
def test_a_head_file_that_is_not_a_checkpoint_neither_hangs_nor_floods(
    head: str, ledger: SqliteLedger
) -> None:
    ledger.head_path.unlink()
    if head == "huge":
        with ledger.head_path.open("wb") as file:
            file.truncate(300 * 1024 * 1024)  # sparse: 300 MB to read, none on disk
        reason = "larger than 64 KiB: not a checkpoint"
    else:
        ledger.head_path.symlink_to(head)
        reason = "not a regular file"
    code = (  # the child's own peak (VmHWM): ru_maxrss carries over the runner's across exec
        "from pathlib import Path; from rollout.ledger import SqliteLedger; "
        f"print(SqliteLedger(Path({str(ledger.path)!r})).verify()); "
        "print(next(line.split()[1] for line in open('/proc/self/status') "
        "if line.startswith('VmHWM:')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    problems, peak_kib = done.stdout.splitlines()
    assert problems == repr([f"the head checkpoint {ledger.head_path} is unreadable ({reason})"])
    assert int(peak_kib) < 200 * 1024  # far below the 300 MB it would take to read it


def test_a_write_to_a_path_whose_folder_is_missing_creates_nothing(
    tmp_path: Path, no_key: Path, cli: Callable[..., CliResult], project: StackSources
) -> None:
    before = snapshot(tmp_path)
    typo = tmp_path / "nodir" / "x.db"
    approved = cli("approve", "staging", *RELEASE, "--ledger", str(typo), project=project)
    assert approved.code == 2
    assert one_line(approved).startswith(
        f"shipyard: no ledger at {typo} and no folder {typo.parent} to start one in: check the "
        "path (--ledger"
    )
    assert snapshot(tmp_path) == before and not no_key.exists()
    dry = cli("promote", "dev", "staging", "--dry-run", "--ledger", str(typo), project=project)
    assert dry.code == 2 and one_line(dry).startswith(f"shipyard: no ledger at {typo}: check")
    rollback = cli("rollback", "dev", "--if-live", "v999", "--ledger", str(typo), project=project)
    assert rollback.code == 2 and str(typo) in one_line(rollback)
    assert snapshot(tmp_path) == before


def test_a_new_ledger_at_a_path_you_name_is_said_on_stderr(
    tmp_path: Path, cli: Callable[..., CliResult], project: StackSources
) -> None:
    new = tmp_path / "team.db"
    approved = cli("approve", "staging", *RELEASE, "--ledger", str(new), project=project)
    assert approved.code == 0, approved
    assert approved.err == (
        f"warning: started a new ledger at {new}: there was none (a typo? check --ledger)\n"
    )
    again = cli("approve", "staging", "--release", "web@v2#3f9c2e1", "--by", "carol",
                "--ledger", str(new), project=project)  # fmt: skip
    assert again.code == 0 and again.err == ""


def test_an_empty_ledger_path_is_refused(
    cli: Callable[..., CliResult], project: StackSources
) -> None:
    before = snapshot(project.root)
    for args in (("approve", "staging", *RELEASE), ("ledger", "verify"), ("ledger", "history")):
        refused = cli(*args, "--ledger", "", project=project)
        assert refused.code == 2, (args, refused)
        assert one_line(refused).startswith("shipyard: the ledger location is empty")
    assert snapshot(project.root) == before


def test_a_refused_write_leaves_no_key_behind(
    ledger: SqliteLedger, no_key: Path, cli: Callable[..., CliResult], project: StackSources
) -> None:
    ledger.path.write_bytes(ledger.path.read_bytes()[:100])  # truncated: cannot be written to
    approved = cli("approve", "staging", *RELEASE, "--ledger", str(ledger.path), project=project)
    assert approved.code == 2
    assert one_line(approved).startswith(f"shipyard: cannot use the ledger at {ledger.path} (")
    nope = cli("approve", "staging", *RELEASE, "--ledger", "/proc/nope/x.db", project=project)
    assert nope.code == 2
    assert not no_key.exists()


def test_the_gate_refuses_approvals_forged_beyond_the_checkpoint(tmp_path: Path) -> None:
    """Three approvals with correct chained hashes after the checkpoint (here: written, then
    the earlier checkpoint put back) were counted by the gate (issue 12, ledger item 1)."""
    from rollout.gates import ReleaseId, evaluate_gate, record_decision
    from shipyard.config.model import Approvals

    release = ReleaseId("web", "v2", "3f9c2e1")
    ledger = SqliteLedger(tmp_path / "ledger.db")
    ledger.append("prod", "check", {"index": 0})
    checkpoint = ledger.head_path.read_bytes()
    for reviewer in ("bob", "carol", "dave"):
        record_decision(ledger, "prod", release, reviewer, True, None)
    ledger.head_path.write_bytes(checkpoint)
    gate = evaluate_gate(ledger, "prod", release, Approvals(required=2), "ada", "erin")
    assert not gate.satisfied
    assert "3 events lie beyond the head checkpoint (event 1)" in gate.explain()
