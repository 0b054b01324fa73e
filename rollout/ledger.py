"""The ledger: every release, step, weight change, check and outcome, append-only and
hash-chained, in SQLite; plus a per-environment lock.

Each event's hash covers its content and the previous event's hash, so editing, reordering or
deleting an event breaks the chain from that point, and `verify` names where.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import socket
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from shipyard.errors import CheckFailed, UsageError

GENESIS = "0" * 64
DEFAULT_PATH = Path(".shipyard") / "ledger.db"
LEASE_SECONDS = 600

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    environment TEXT NOT NULL,
    rollout TEXT,
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    data TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_env ON events (environment, seq);
CREATE TABLE IF NOT EXISTS locks (
    environment TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    since TEXT NOT NULL,
    lease_until TEXT NOT NULL
);
"""


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


@dataclass(frozen=True)
class Lock:
    environment: str
    holder: str
    host: str
    pid: int
    since: str
    lease_until: str


class Ledger(Protocol):
    """Where events go: SQLite (one file) or S3 (a team's shared history)."""

    path: Any

    def append(
        self,
        environment: str,
        kind: str,
        data: dict[str, Any],
        *,
        rollout: str | None = None,
        actor: str = "shipyard",
        at: str | None = None,
    ) -> Event: ...

    def events(self, environment: str | None = None, rollout: str | None = None) -> list[Event]: ...

    def verify(self) -> list[str]: ...

    def lock(self, environment: str) -> Lock | None: ...

    def acquire(self, environment: str, holder: str) -> Lock: ...

    def release(self, lock: Lock) -> None: ...


class LockHeld(CheckFailed):
    """Another deploy holds the environment."""


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


def event_content(data: dict[str, Any], at: str | None) -> tuple[str, str]:
    """An event's data as the hashed text, and its time (now unless imported)."""
    text = json.dumps(data, sort_keys=True, default=str)
    return text, at or dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def verify_records(records: list[Any]) -> list[str]:
    """Check a chain of (seq, at, environment, rollout, kind, actor, data text, prev_hash,
    hash) records, in seq order."""
    problems = []
    previous, expected_seq = GENESIS, 1
    for seq, at, env, rollout, kind, actor, data, prev_hash, digest in records:
        if seq != expected_seq:
            problems.append(f"event {expected_seq}: missing (next is {seq})")
        if prev_hash != previous:
            problems.append(f"event {seq}: does not follow the event before it")
        if event_hash(prev_hash, seq, at, env, rollout, kind, actor, data) != digest:
            problems.append(f"event {seq} ({kind}): content does not match its hash")
        previous, expected_seq = digest, seq + 1
    return problems


def new_lock(environment: str, holder: str) -> Lock:
    now = dt.datetime.now(dt.UTC)
    return Lock(
        environment,
        holder,
        socket.gethostname(),
        os.getpid(),
        now.isoformat(timespec="seconds"),
        (now + dt.timedelta(seconds=LEASE_SECONDS)).isoformat(timespec="seconds"),
    )


def lock_held_error(held: Lock) -> LockHeld:
    return LockHeld(
        f"{held.environment} is locked by {held.holder} (pid {held.pid} on {held.host}) "
        f"since {held.since}; wait for it, or if that process is gone run "
        f"`shipyard status {held.environment}`"
    )


class SqliteLedger:
    """The SQLite ledger; one file, safe for several processes (WAL, immediate transactions)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._ready = False  # the file is created on first use, never by a refused command

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        if not self._ready:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        if not self._ready:
            db.executescript(SCHEMA)
            self._ready = True
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")  # an event on disk before the next step acts
            yield db
        finally:
            db.close()

    def append(
        self,
        environment: str,
        kind: str,
        data: dict[str, Any],
        *,
        rollout: str | None = None,
        actor: str = "shipyard",
        at: str | None = None,
    ) -> Event:
        """Add an event at the end of the chain (`at`: only for history being imported)."""
        text, at = event_content(data, at)
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
            seq, prev = (row[0] + 1, row[1]) if row else (1, GENESIS)
            digest = event_hash(prev, seq, at, environment, rollout, kind, actor, text)
            db.execute(
                "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (seq, at, environment, rollout, kind, actor, text, prev, digest),
            )
            db.execute("COMMIT")
        return Event(seq, at, environment, rollout, kind, actor, data, prev, digest)

    def events(self, environment: str | None = None, rollout: str | None = None) -> list[Event]:
        query, args = "SELECT * FROM events", []
        clauses = []
        if environment is not None:
            clauses.append("environment = ?")
            args.append(environment)
        if rollout is not None:
            clauses.append("rollout = ?")
            args.append(rollout)
        if clauses:
            query += " WHERE " + " AND ".join(clauses)
        with self._connect() as db:
            rows = db.execute(query + " ORDER BY seq", args).fetchall()
        return [
            Event(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]), r[7], r[8]) for r in rows
        ]

    def verify(self) -> list[str]:
        """Problems in the chain, each naming the event; empty when intact."""
        with self._connect() as db:
            rows = db.execute("SELECT * FROM events ORDER BY seq").fetchall()
        return verify_records(rows)

    # -- locks -----------------------------------------------------------------------------

    def lock(self, environment: str) -> Lock | None:
        with self._connect() as db:
            row = db.execute("SELECT * FROM locks WHERE environment = ?", (environment,)).fetchone()
        return Lock(*row) if row else None

    def acquire(self, environment: str, holder: str) -> Lock:
        """Take the environment's lock, or take over one left by a dead process or an expired
        lease; raise LockHeld naming the holder and since when otherwise."""
        mine = new_lock(environment, holder)
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute("SELECT * FROM locks WHERE environment = ?", (environment,)).fetchone()
            if row is not None and lock_is_live(Lock(*row)):
                db.execute("ROLLBACK")
                raise lock_held_error(Lock(*row))
            db.execute(
                "INSERT OR REPLACE INTO locks VALUES (?, ?, ?, ?, ?, ?)",
                (mine.environment, mine.holder, mine.host, mine.pid, mine.since, mine.lease_until),
            )
            db.execute("COMMIT")
        return mine

    def release(self, lock: Lock) -> None:
        with self._connect() as db:
            db.execute(
                "DELETE FROM locks WHERE environment = ? AND pid = ? AND host = ?",
                (lock.environment, lock.pid, lock.host),
            )


def lock_is_live(lock: Lock) -> bool:
    """Held by a process that is still alive here, or elsewhere with an unexpired lease."""
    if lock.host == socket.gethostname():
        try:
            os.kill(lock.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return dt.datetime.fromisoformat(lock.lease_until) > dt.datetime.now(dt.UTC)


def open_ledger(root: Path, location: str | None = None) -> Ledger:
    """`s3://bucket/prefix` for a team's ledger on S3, else a SQLite file (default
    .shipyard/ledger.db)."""
    if location and location.startswith("s3://"):
        from rollout.ledger_s3 import S3Ledger

        return S3Ledger(location)
    target = Path(location) if location else root / DEFAULT_PATH
    if target.exists() and target.is_dir():
        raise UsageError(f"{target}: is a folder; --ledger takes a file path or s3://bucket/prefix")
    return SqliteLedger(target)


def copy_ledger(source: Ledger, destination: Ledger) -> int:
    """Every event of source appended to an empty destination, times and actors kept, so the
    chain (and every hash) comes out identical."""
    if destination.events():
        raise UsageError(f"{destination.path} is not empty: copy into a new ledger")
    problems = source.verify()
    if problems:
        raise CheckFailed(f"{source.path} fails verification ({problems[0]}): not copied")
    events = source.events()
    for event in events:
        destination.append(
            event.environment,
            event.kind,
            event.data,
            rollout=event.rollout,
            actor=event.actor,
            at=event.at,
        )
    return len(events)
