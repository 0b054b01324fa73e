"""The head checkpoint makes the chain's end verifiable from outside (issue 12, item 2); the
ledger refuses to be read into a decision or a figure while it fails verification."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from rollout.gates import ReleaseId, evaluate_gate, record_decision
from rollout.ledger import SqliteLedger, require_verified
from rollout.ledger_head import LedgerUnverified, key_path, sign
from shipyard.config.load import StackSources
from shipyard.config.model import Approvals
from shipyard.errors import UsageError
from tests.conftest import CliResult, snapshot

RELEASE = ReleaseId("web", "v2", "3f9c2e1")
RUNBOOK = 'docs/runbook.md, "The ledger fails verification"'


@pytest.fixture
def ledger(tmp_path: Path) -> SqliteLedger:
    ledger = SqliteLedger(tmp_path / "ledger.db")
    for index in range(5):
        ledger.append("dev", "check", {"index": index}, rollout="r1")
    return ledger


def sql(ledger: SqliteLedger, statement: str) -> None:
    with sqlite3.connect(ledger.path) as db:
        db.execute(statement)


def one_line(result: CliResult) -> str:
    assert result.err.count("\n") == 1 and "Traceback" not in result.err, result
    return result.err


def test_a_cut_tail_is_caught_and_nothing_more_is_appended(ledger: SqliteLedger) -> None:
    sql(ledger, "DELETE FROM events WHERE seq = 5")
    assert ledger.verify() == [
        "the ledger ends at event 4 but its head checkpoint names event 5: events were "
        "removed from its end"
    ]
    with pytest.raises(LedgerUnverified, match="shipyard ledger verify"):
        ledger.append("dev", "check", {"index": 5})
    assert [e.seq for e in ledger.events()] == [1, 2, 3, 4]  # a later write cannot hide it


def test_a_0_byte_ledger_that_had_events_is_caught(ledger: SqliteLedger) -> None:
    ledger.path.write_bytes(b"")
    assert ledger.verify() == [
        f"{ledger.path} is 0 bytes: a ledger shipyard wrote never is",
        "the ledger has no events but its head checkpoint names event 5: events were removed "
        "from its end",
    ]
    ledger.head_path.unlink()  # without its checkpoint, an emptied file still shows
    assert ledger.verify() == [f"{ledger.path} is 0 bytes: a ledger shipyard wrote never is"]


def test_a_chain_rewritten_with_recomputed_hashes_is_caught(ledger: SqliteLedger) -> None:
    """Edit event 3 and recompute every hash after it: the chain verifies, the head does not."""
    from rollout.ledger import event_hash

    rows = [list(r) for r in sqlite3.connect(ledger.path).execute("SELECT * FROM events")]
    rows[2][6] = json.dumps({"index": 99})
    for row in rows[2:]:
        row[7] = rows[row[0] - 2][8]
        row[8] = event_hash(*row[7:8], *row[:7])
    with sqlite3.connect(ledger.path) as db:
        db.executemany("INSERT OR REPLACE INTO events VALUES (?,?,?,?,?,?,?,?,?)", rows)
    problems = ledger.verify()
    assert len(problems) == 1
    assert problems[0].startswith("event 5 is not the event the head checkpoint names (")
    # A checkpoint forged without the key: another key, or the right fingerprint and a guess.
    real = json.loads(ledger.head_path.read_text())
    forged = sign(b"not the ledger key at all", 5, rows[4][8])
    ledger.head_path.write_bytes(forged.to_json())
    assert ledger.verify()[0].startswith("the head checkpoint was signed with another key (")
    ledger.head_path.write_text(json.dumps({**real, "mac": forged.mac}))
    assert ledger.verify() == [
        "the head checkpoint's signature does not match its content: it was rewritten"
    ]


def test_a_ledger_without_its_checkpoint_fails_until_accepted(
    ledger: SqliteLedger, cli: Callable[..., CliResult], repo_sources: StackSources
) -> None:
    ledger.head_path.unlink()
    where = str(ledger.path)
    failed = cli("ledger", "verify", "--ledger", where, project=repo_sources)
    assert failed.code == 1
    assert f"events up to 5 but no head checkpoint at {ledger.head_path}" in failed.out
    assert RUNBOOK in one_line(failed)
    accept = ("ledger", "verify", "--ledger", where, "--accept-head")
    accepted = cli(*accept, "--by", "oncall", project=repo_sources)
    assert accepted.code == 0, accepted
    assert "head checkpoint moved to event 6 (head-accepted, by oncall)" in accepted.out
    assert "6 events, chain intact, head checkpoint matches (key fingerprint " in accepted.out
    event = ledger.events()[-1]
    assert (event.kind, event.actor) == ("head-accepted", "oncall")
    assert event.data["previous_head"] is None and event.data["chain_end"] == 5
    again = cli(*accept, "--by", "oncall", project=repo_sources)
    assert "already matches" in again.out and len(ledger.events()) == 6


def test_a_broken_chain_is_never_accepted(ledger: SqliteLedger) -> None:
    sql(ledger, """UPDATE events SET data = '{"index": 7}' WHERE seq = 2""")
    with pytest.raises(LedgerUnverified, match="the chain itself is broken"):
        ledger.accept_head("oncall")
    assert len(ledger.events()) == 5


def test_reading_without_the_key_cannot_vouch_and_creates_no_key(
    ledger: SqliteLedger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "elsewhere"))
    assert ledger.verify() == [
        "no ledger key here to check the head checkpoint: set $SHIPYARD_LEDGER_KEY to the key "
        "this ledger's writers use"
    ]
    assert not key_path().exists()


def test_the_key_file_is_private_and_an_env_key_overrides_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    SqliteLedger(tmp_path / "a.db").append("dev", "check", {})
    assert key_path().stat().st_mode & 0o777 == 0o600
    monkeypatch.setenv("SHIPYARD_LEDGER_KEY", "a team key, long enough")
    team = SqliteLedger(tmp_path / "team.db")
    team.append("dev", "check", {})
    assert team.verify() == []
    monkeypatch.delenv("SHIPYARD_LEDGER_KEY")
    assert "signed with another key" in team.verify()[0]
    monkeypatch.setenv("SHIPYARD_LEDGER_KEY", "short")
    with pytest.raises(UsageError, match="shorter than 16 characters"):
        team.verify()


def test_the_gate_refuses_a_ledger_whose_rejection_was_cut(tmp_path: Path) -> None:
    """The issue's attack: the last event, a rejection, deleted; the release must not pass."""
    ledger = SqliteLedger(tmp_path / "ledger.db")
    for reviewer in ("bob", "carol"):
        record_decision(ledger, "prod", RELEASE, reviewer, True, None)
    record_decision(ledger, "prod", RELEASE, "frank", False, "breaks billing")
    sql(ledger, "DELETE FROM events WHERE kind = 'rejection'")
    result = evaluate_gate(ledger, "prod", RELEASE, Approvals(required=2), "ada", "dave")
    assert not result.satisfied
    assert "fails verification (the ledger ends at event 2" in result.explain()
    assert "run `shipyard ledger verify`" in result.explain()
    with pytest.raises(LedgerUnverified):
        require_verified(ledger)


def test_deploy_and_metrics_refuse_a_ledger_that_fails_verification(
    project: StackSources, cli: Callable[..., CliResult]
) -> None:
    ledger = SqliteLedger(project.root / ".shipyard" / "ledger.db")
    rid = "r1"
    ledger.append("dev", "release", {"service": "web", "version": "v1"}, rollout=rid)
    ledger.append("dev", "outcome", {"status": "rolled-back"}, rollout=rid)
    assert cli("metrics", project=project).code == 0
    sql(ledger, "DELETE FROM events WHERE seq = 2")  # the failure disappears from the figures
    before = snapshot(project.root)
    for args in (("metrics",), ("deploy", "dev", "--service", "web", "--version", "v2")):
        refused = cli(*args, project=project)
        assert refused.code == 1, (args, refused)
        line = one_line(refused)
        assert line.startswith(f"shipyard: the ledger at {ledger.path} fails verification (")
        assert "run `shipyard ledger verify` and follow " + RUNBOOK in line
    assert snapshot(project.root) == before
