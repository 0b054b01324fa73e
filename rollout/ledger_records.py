"""The ledger's records: an event, its hash, what makes a stored record well-formed, and how
a chain of records is checked (each follows the one before, matches its hash, and has a time
that neither goes back nor lies ahead); shared by the SQLite and S3 ledgers."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from rollout.ledger_head import GENESIS, RUNBOOK
from shipyard.errors import UsageError

FIELDS = ("seq", "at", "environment", "rollout", "kind", "actor", "data", "prev_hash", "hash")
# Clocks of the machines sharing a ledger differ a little; one machine's times never go back
# (each is taken under the write lock, after the chain's end is read).
CLOCK_SKEW = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class Event:
    seq: int
    at: str
    environment: str
    rollout: str | None
    kind: str
    actor: str
    data: dict[str, Any]
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at,
            "environment": self.environment,
            "rollout": self.rollout,
            "kind": self.kind,
            "actor": self.actor,
            "data": self.data,
        }


class LedgerDamaged(UsageError):
    """The ledger cannot be read as one: a damaged file, a foreign table, an unreadable row."""

    def __init__(self, path: object, reason: str) -> None:
        self.reason = reason
        super().__init__(
            f"cannot use the ledger at {path} ({reason}): restore the file from a backup "
            f"({RUNBOOK})"
        )


def event_hash(
    prev_hash: str,
    seq: int,
    at: str,
    environment: str,
    rollout: str | None,
    kind: str,
    actor: str,
    data: str,
) -> str:
    body = json.dumps([prev_hash, seq, at, environment, rollout, kind, actor, data])
    return hashlib.sha256(body.encode()).hexdigest()


def event_text(data: dict[str, Any]) -> str:
    """An event's data as the hashed text."""
    return json.dumps(data, sort_keys=True, default=str)


def now_text() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def parse_time(text: str) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def record_damage(record: Any) -> str | None:
    """Why a stored record is not a ledger event (its fields' types, its data), or None."""
    if not isinstance(record, tuple | list) or len(record) != len(FIELDS):
        return "not a ledger event"
    seq, at, _, rollout, *_ = record
    if not isinstance(seq, int) or isinstance(seq, bool):
        return "its seq is not a whole number"
    for name, value in zip(FIELDS, record, strict=True):
        if name not in ("seq", "rollout") and not isinstance(value, str):
            return f"its {name} is not text"
    if rollout is not None and not isinstance(rollout, str):
        return "its rollout is not text"
    try:
        data = json.loads(record[6])
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return "its data is not a JSON object"
    if parse_time(at) is None:
        return f"its time {at[:40]!r} is not an ISO 8601 time"
    return None


def verify_records(records: list[Any]) -> list[str]:
    """Check a chain of (seq, at, environment, rollout, kind, actor, data text, prev_hash,
    hash) records, in seq order: each well-formed, following the one before, matching its
    hash, and with a time neither before the previous event's nor after now by more than
    CLOCK_SKEW."""
    problems = []
    previous, expected_seq, before = GENESIS, 1, None
    latest = dt.datetime.now(dt.UTC) + CLOCK_SKEW
    for record in records:
        damage = record_damage(record)
        if damage is not None:
            seq = record[0] if isinstance(record, tuple | list) and record else "?"
            problems.append(f"event {seq}: damaged ({damage})")
            previous = str(record[8]) if len(record) == len(FIELDS) else ""
            expected_seq = seq + 1 if isinstance(seq, int) else expected_seq + 1
            continue
        seq, at, env, rollout, kind, actor, data, prev_hash, digest = record
        if seq != expected_seq:
            problems.append(f"event {expected_seq}: missing (next is {seq})")
        if prev_hash != previous:
            problems.append(f"event {seq}: does not follow the event before it")
        if event_hash(prev_hash, seq, at, env, rollout, kind, actor, data) != digest:
            problems.append(f"event {seq} ({kind}): content does not match its hash")
        moment = parse_time(at)
        assert moment is not None  # record_damage checked it
        if before is not None and before[1] - moment > CLOCK_SKEW:  # no overflow near year 1
            problems.append(f"event {seq} ({kind}): its time {at} is before event {before[0]}'s")
        if moment > latest:
            problems.append(f"event {seq} ({kind}): its time {at} lies in the future")
        previous, expected_seq, before = digest, seq + 1, (seq, moment)
    return problems


def events_from(records: list[Any], path: object) -> list[Event]:
    """Stored records as events; a damaged one is refused in one line (`verify` names all)."""
    events = []
    for record in records:
        damage = record_damage(record)
        if damage is not None:
            seq = record[0] if isinstance(record, tuple | list) and record else "?"
            raise LedgerDamaged(path, f"event {seq} is damaged: {damage}")
        seq, at, env, rollout, kind, actor, text, prev, digest = record
        events.append(Event(seq, at, env, rollout, kind, actor, json.loads(text), prev, digest))
    return events
