"""One contract, two ledgers: SQLite and S3 (moto server on 127.0.0.1) behave the same."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from rollout.ledger import (
    GENESIS,
    Ledger,
    LockHeld,
    SqliteLedger,
    copy_ledger,
    event_hash,
    require_verified,
)
from rollout.ledger_head import LedgerUnverified
from rollout.ledger_s3 import FIELDS, S3Ledger
from shipyard.config.load import StackSources
from tests.conftest import CliResult

pytestmark = pytest.mark.usefixtures("calls_within_policy")

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture
def s3_env(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    for key, value in {**CREDENTIALS, "AWS_ENDPOINT_URL_S3": moto_url}.items():
        monkeypatch.setenv(key, value)
    bucket = f"ledger-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    return f"s3://{bucket}/team/shipyard"


def tamper_sqlite(ledger: SqliteLedger, seq: int, delete: bool) -> None:
    with sqlite3.connect(ledger.path) as db:
        if delete:
            db.execute("DELETE FROM events WHERE seq = ?", (seq,))
        else:
            db.execute("UPDATE events SET data = ? WHERE seq = ?", ('{"rate": 0.0}', seq))


def tamper_s3(ledger: S3Ledger, seq: int, delete: bool) -> None:
    key = ledger._key("events", f"{seq:012d}.json")
    if delete:
        ledger.s3.delete_object(Bucket=ledger.bucket, Key=key)
        return
    record = json.loads(ledger.s3.get_object(Bucket=ledger.bucket, Key=key)["Body"].read())
    record["data"] = '{"rate": 0.0}'
    ledger.s3.put_object(Bucket=ledger.bucket, Key=key, Body=json.dumps(record).encode())


@pytest.fixture(params=["sqlite", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Ledger, Callable[..., None]]:
    if request.param == "sqlite":
        ledger = SqliteLedger(tmp_path / "ledger.db")
        return ledger, lambda seq, delete=False: tamper_sqlite(ledger, seq, delete)
    url = request.getfixturevalue("s3_env")
    s3 = S3Ledger(url)
    return s3, lambda seq, delete=False: tamper_s3(s3, seq, delete)


def fill(ledger: Ledger) -> None:
    for index in range(4):
        ledger.append(
            "prod" if index % 2 else "dev",
            "check",
            {"rate": 0.01 * index},
            rollout=f"r{index % 2}",
            actor="ci",
        )


def test_events_come_back_in_order_and_filtered(backend: tuple[Ledger, Any]) -> None:
    ledger, _ = backend
    fill(ledger)
    events = ledger.events()
    assert [e.seq for e in events] == [1, 2, 3, 4]
    assert [e.data["rate"] for e in ledger.events("prod")] == [0.01, 0.03]
    assert [e.seq for e in ledger.events(rollout="r0")] == [1, 3]
    assert events[1].prev_hash == events[0].hash
    assert ledger.verify() == []


def test_an_edited_event_is_caught(backend: tuple[Ledger, Callable[..., None]]) -> None:
    ledger, tamper = backend
    fill(ledger)
    tamper(2)
    assert ledger.verify() == ["event 2 (check): content does not match its hash"]


def test_a_deleted_event_is_caught(backend: tuple[Ledger, Callable[..., None]]) -> None:
    ledger, tamper = backend
    fill(ledger)
    tamper(3, delete=True)
    assert ledger.verify() == [
        "event 3: missing (next is 4)",
        "event 4: does not follow the event before it",
    ]


def test_the_lock_names_its_holder_and_is_released(backend: tuple[Ledger, Any]) -> None:
    ledger, _ = backend
    held = ledger.acquire("prod", "ada deploying web@v2")
    with pytest.raises(LockHeld, match="prod is locked by ada deploying web@v2"):
        ledger.acquire("prod", "bob deploying web@v3")
    current = ledger.lock("prod")
    assert current is not None and current.holder == "ada deploying web@v2"
    ledger.release(held)
    assert ledger.lock("prod") is None
    ledger.release(ledger.acquire("prod", "bob deploying web@v3"))


def test_a_lock_left_by_a_dead_process_is_taken_over(
    backend: tuple[Ledger, Any], tmp_path: Path
) -> None:
    ledger, _ = backend
    location = str(ledger.path)
    code = (
        "from pathlib import Path; from rollout.ledger import open_ledger; "
        f"open_ledger(Path('.'), {location!r}).acquire('dev', 'crashed deploy')"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    stale = ledger.lock("dev")
    assert stale is not None and stale.holder == "crashed deploy"
    assert ledger.acquire("dev", "next deploy").holder == "next deploy"


def test_racing_writers_keep_one_chain(backend: tuple[Ledger, Any]) -> None:
    ledger, _ = backend

    def write(name: str) -> None:
        for index in range(10):
            ledger.append("dev", "check", {"writer": name, "index": index})

    # Three: each writer signs the event a racing one may have left unsigned before adding its
    # own, so never more than one lies beyond the checkpoint (more would be refused).
    threads = [threading.Thread(target=write, args=(name,)) for name in ("a", "b", "c")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    events = ledger.events()
    assert [e.seq for e in events] == list(range(1, 31))
    assert ledger.verify() == []


def test_copy_between_backends_keeps_every_hash(
    s3_env: str, tmp_path: Path, cli: Callable[..., CliResult], repo_sources: StackSources
) -> None:
    local = SqliteLedger(tmp_path / "from.db")
    fill(local)
    copied = cli("ledger", "copy", str(local.path), s3_env, project=repo_sources)
    assert copied.code == 0, copied
    assert copied.out == f"copied 4 events from {local.path} to {s3_env}\n"
    team = S3Ledger(s3_env)
    assert [e.hash for e in team.events()] == [e.hash for e in local.events()]
    back = SqliteLedger(tmp_path / "back.db")
    assert copy_ledger(team, back) == 4
    assert back.verify() == []
    again = cli("ledger", "copy", str(local.path), s3_env, project=repo_sources)
    assert again.code == 2
    assert "is not empty" in again.err
    verified = cli("ledger", "verify", "--ledger", s3_env, project=repo_sources)
    assert verified.code == 0 and "4 events, chain intact" in verified.out


def store(ledger: Ledger, row: list[Any]) -> None:
    """Write one event record as it is stored, bypassing the ledger (an attacker's write)."""
    if isinstance(ledger, SqliteLedger):
        with sqlite3.connect(ledger.path) as db:
            db.execute("INSERT OR REPLACE INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
        return
    assert isinstance(ledger, S3Ledger)
    key = ledger._key("events", f"{row[0]:012d}.json")
    body = json.dumps(dict(zip(FIELDS, row, strict=True))).encode()
    ledger.s3.put_object(Bucket=ledger.bucket, Key=key, Body=body)


def test_a_cut_tail_is_caught_and_blocks_appends(
    backend: tuple[Ledger, Callable[..., None]],
) -> None:
    ledger, tamper = backend
    fill(ledger)
    tamper(4, delete=True)
    cut = (
        "the ledger ends at event 3 but its head checkpoint names event 4: events were "
        "removed from its end"
    )
    assert ledger.verify() == [cut]
    with pytest.raises(LedgerUnverified, match="run `shipyard ledger verify`"):
        ledger.append("dev", "check", {"rate": 0.5})
    for seq in (1, 2, 3):
        tamper(seq, delete=True)
    assert ledger.verify() == [cut.replace("ends at event 3", "has no events")]


def test_a_chain_rewritten_with_recomputed_hashes_is_caught(
    backend: tuple[Ledger, Callable[..., None]],
) -> None:
    ledger, _ = backend
    fill(ledger)
    previous = GENESIS
    for event in ledger.events():
        text = json.dumps({"rate": 0.0}, sort_keys=True)
        row = [event.seq, event.at, event.environment, event.rollout, event.kind, event.actor]
        digest = event_hash(previous, *row, text)
        store(ledger, [*row, text, previous, digest])
        previous = digest
    problems = ledger.verify()
    assert len(problems) == 1  # the chain itself is flawless
    assert problems[0].startswith("event 4 is not the event the head checkpoint names")


def test_accepting_the_head_is_deliberate_and_recorded(
    backend: tuple[Ledger, Callable[..., None]],
) -> None:
    ledger, tamper = backend
    fill(ledger)
    tail = ledger.events()[-1]
    tamper(4, delete=True)
    accepted = ledger.accept_head("oncall@example.com")
    assert accepted is not None
    assert (accepted.seq, accepted.kind, accepted.environment) == (4, "head-accepted", "ledger")
    assert accepted.data["previous_head"] == {"seq": 4, "hash": tail.hash}
    assert ledger.verify() == []
    assert ledger.accept_head("oncall@example.com") is None
    ledger.append("dev", "check", {"rate": 0.5})
    assert ledger.verify() == []


def forge(ledger: Ledger, count: int, at: str | None = None) -> None:
    """`count` approvals appended by hand after the chain's end, every hash recomputed."""
    previous = ledger.events()[-1]
    seq, prev = previous.seq, previous.hash
    for index in range(count):
        seq += 1
        text = json.dumps({"release": "web@v9#abc", "reviewer": f"r{index}"}, sort_keys=True)
        row = [seq, at or previous.at, "prod", None, "approval", "mallory"]
        prev_row = prev
        prev = event_hash(prev_row, *row, text)
        store(ledger, [*row, text, prev_row, prev])


def test_events_forged_beyond_the_checkpoint_are_caught_and_never_re_signed(
    backend: tuple[Ledger, Any],
) -> None:
    """Issue 12 (ledger, item 1): three forged approvals after the head verified and the next
    write signed them. A writer killed between event and checkpoint leaves one behind: that
    one still verifies (the documented limit), more never."""
    ledger, _ = backend
    fill(ledger)
    forge(ledger, 1)
    assert ledger.verify() == []
    forge(ledger, 2)
    beyond = (
        "3 events lie beyond the head checkpoint (event 4): shipyard leaves at most one, so "
        "they were added outside it"
    )
    assert ledger.verify() == [beyond]
    with pytest.raises(LedgerUnverified, match="3 events lie beyond the head checkpoint"):
        ledger.append("dev", "check", {"rate": 0.5})
    assert ledger.verify() == [beyond]  # the refused write signed nothing


FUTURE, PAST = "2099-01-01T00:00:00.000+00:00", "2001-01-01T00:00:00.000+00:00"


@pytest.mark.parametrize(
    ("at", "problem"),
    [
        (FUTURE, f"event 5 (approval): its time {FUTURE} lies in the future"),
        (PAST, f"event 5 (approval): its time {PAST} is before event 4's"),
        ("yesterday", "event 5: damaged (its time 'yesterday' is not an ISO 8601 time)"),
    ],
    ids=["future", "backwards", "not-a-time"],
)
def test_an_event_whose_time_is_impossible_is_caught(
    backend: tuple[Ledger, Any], at: str, problem: str
) -> None:
    """An approval dated 2099 was counted by the gate (issue 12, ledger item 1): one event
    beyond the checkpoint passes that check, so its time must be checked too."""
    ledger, _ = backend
    fill(ledger)
    forge(ledger, 1, at=at)
    assert ledger.verify() == [problem]
    with pytest.raises(LedgerUnverified):
        require_verified(ledger)


def test_a_damaged_event_is_a_problem_not_a_traceback(backend: tuple[Ledger, Any]) -> None:
    """Data that is not JSON, or not even text: `verify` names the event, reading refuses in
    one line (issue 12, ledger item 3)."""
    ledger, _ = backend
    fill(ledger)
    if isinstance(ledger, SqliteLedger):
        with sqlite3.connect(ledger.path) as db:
            db.execute("UPDATE events SET data = 'not json' WHERE seq = 1")
            db.execute("UPDATE events SET data = x'ff00' WHERE seq = 3")
    else:
        assert isinstance(ledger, S3Ledger)
        first = ledger._key("events", f"{1:012d}.json")
        record = json.loads(ledger.s3.get_object(Bucket=ledger.bucket, Key=first)["Body"].read())
        record["data"] = "not json"
        ledger.s3.put_object(Bucket=ledger.bucket, Key=first, Body=json.dumps(record).encode())
        third = ledger._key("events", f"{3:012d}.json")
        ledger.s3.put_object(Bucket=ledger.bucket, Key=third, Body=b"\xff\x00")
    from rollout.ledger_chain import LedgerDamaged  # here: before the fix it did not exist

    problems = ledger.verify()
    assert problems[0] == "event 1: damaged (its data is not a JSON object)"
    assert problems[1].startswith("event 3: damaged (")
    with pytest.raises(LedgerDamaged, match=r"\(event 1 is damaged: its data is not a JSON"):
        ledger.events()
