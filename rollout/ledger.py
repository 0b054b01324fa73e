"""The ledger: every release, step, weight change, check and outcome, append-only and
hash-chained, in SQLite (or on S3: rollout/ledger_s3.py); plus a per-environment lock.

The chain and its checks live in rollout/ledger_chain.py, the head checkpoint that makes the
chain's end verifiable from outside in rollout/ledger_head.py.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rollout.ledger_chain import (
    FIELDS,
    LEDGER_EVENTS,
    Event,
    Ledger,
    LedgerDamaged,
    Lock,
    LockHeld,
    append_key,
    copy_ledger,
    event_hash,
    event_text,
    events_from,
    head_to_accept,
    lock_held_error,
    lock_is_live,
    missing_key,
    new_lock,
    now_text,
    require_verified,
    verify_chain,
    verify_records,
)
from rollout.ledger_head import (
    GENESIS,
    Head,
    head_problems,
    read_head_file,
    sign,
    unverified,
    write_head_file,
)
from shipyard.errors import UsageError

# What the rest of shipyard imports from here:
__all__ = ["GENESIS", "Event", "Ledger", "Lock", "LockHeld", "SqliteLedger", "copy_ledger"]
__all__ += ["event_hash", "lock_is_live", "open_ledger", "require_verified", "verify_records"]

DEFAULT_PATH = Path(".shipyard") / "ledger.db"
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


def unusable(path: Path, exc: Exception) -> UsageError:
    """One line for a ledger file SQLite cannot open or read (truncated, not a database,
    a folder that cannot be created)."""
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    if isinstance(exc, OSError | sqlite3.OperationalError):  # cannot open or create it there
        return UsageError(
            f"cannot use the ledger at {path} ({reason}): check the path (--ledger, "
            "$SHIPYARD_LEDGER or `ledger:`) and its permissions"
        )
    return LedgerDamaged(path, reason)  # opened, but damaged


def _one(cursor: sqlite3.Cursor) -> Any:
    row = cursor.fetchone()
    return row[0] if row else None


class SqliteLedger:
    """The SQLite ledger; one file, safe for several processes (immediate transactions).

    Readers open it read-only (`mode=ro`, https://www.sqlite.org/uri.html) and create
    nothing; that is why it keeps a rollback journal, not WAL: a WAL reader creates the -wal
    and -shm files (https://www.sqlite.org/wal.html#readonly)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.head_path = path.with_name(path.name + ".head")
        self._ready = False  # the file is created on first write, never by a reader

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise unusable(self.path, exc) from None
        try:
            if not self._ready:
                db.execute("PRAGMA journal_mode=DELETE")
                db.executescript(SCHEMA)
                self._ready = True
            db.execute("PRAGMA synchronous=FULL")  # an event on disk before the next step acts
            yield db
        except sqlite3.DatabaseError as exc:
            raise unusable(self.path, exc) from None
        finally:
            db.close()

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection | None]:
        """A read-only connection; None when there is no ledger (yet, or left 0 bytes)."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            yield None
            return
        try:
            db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        except sqlite3.Error as exc:
            raise unusable(self.path, exc) from None
        try:
            if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'events'").fetchone() is None:
                raise UsageError(f"{self.path} is an SQLite file but not a shipyard ledger")
            columns = tuple(row[1] for row in db.execute("PRAGMA table_info(events)"))
            if columns != FIELDS:
                raise LedgerDamaged(
                    self.path, f"its events table has the columns {', '.join(columns)}"
                )
            yield db
        except sqlite3.DatabaseError as exc:
            raise unusable(self.path, exc) from None
        finally:
            db.close()

    def _rows(self, query: str = "SELECT * FROM events ORDER BY seq", *args: Any) -> list[Any]:
        with self._reading() as db:
            return [] if db is None else db.execute(query, args).fetchall()

    def append(
        self,
        environment: str,
        kind: str,
        data: dict[str, Any],
        *,
        rollout: str | None = None,
        actor: str = "shipyard",
        at: str | None = None,
        reanchor: bool = False,
    ) -> Event:
        """Add an event at the end of the chain (`at`: only for history being imported), then
        move the head checkpoint to it; refuse when the checkpoint does not match the end."""
        text = event_text(data)
        with self._writing() as db:
            db.execute("BEGIN IMMEDIATE")
            at = at or now_text()  # under the write lock: times follow the chain's order
            row = db.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
            seq, prev = (row[0] + 1, row[1]) if row else (1, GENESIS)
            head = read_head_file(self.head_path)
            key = append_key(head, seq - 1)
            problems = head_problems(
                head,
                seq - 1,
                lambda n: _one(db.execute("SELECT hash FROM events WHERE seq = ?", (n,))),
                str(self.head_path),
                key,
            )
            if problems and not reanchor:
                db.execute("ROLLBACK")
                raise unverified(self.path, problems)
            if key is None:
                db.execute("ROLLBACK")
                raise missing_key()
            if head is None and seq == 1:  # a new ledger: anchored before its first event
                write_head_file(self.head_path, sign(key, 0, GENESIS))
            elif not problems and isinstance(head, Head) and head.seq < seq - 1:
                # the one event a writer may have left unsigned
                # Signed before this one is added, so however many writers race, no more
                # than one event ever lies beyond the checkpoint.
                write_head_file(self.head_path, sign(key, seq - 1, prev))
            digest = event_hash(prev, seq, at, environment, rollout, kind, actor, text)
            db.execute(
                "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (seq, at, environment, rollout, kind, actor, text, prev, digest),
            )
            db.execute("COMMIT")
            # After the commit: a writer that dies in between leaves the checkpoint one event
            # behind, which verifies (and the next append moves it on), never one ahead. Under
            # the write lock again, so racing writers move it forward only.
            db.execute("BEGIN IMMEDIATE")
            write_head_file(self.head_path, sign(key, seq, digest), replace=reanchor)
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
        return events_from(self._rows(query + " ORDER BY seq", *args), self.path)

    def verify(self) -> list[str]:
        """Problems in the chain and against its head checkpoint, each naming the event;
        empty when intact."""
        head = read_head_file(self.head_path)  # first: a later checkpoint never outruns rows
        try:
            rows = self._rows()
        except LedgerDamaged as exc:  # for `verify`, a damaged file is a failed verification
            return [f"{self.path} is damaged ({exc.reason})"]
        emptied = self.path.exists() and self.path.stat().st_size == 0
        problems = [f"{self.path} is 0 bytes: a ledger shipyard wrote never is"] if emptied else []
        return problems + verify_chain(rows, head, str(self.head_path))

    def accept_head(self, actor: str) -> Event | None:
        """Re-anchor the checkpoint at the chain's end, recorded as an event; None when it
        already matches."""
        data = head_to_accept(self._rows(), read_head_file(self.head_path), str(self.head_path))
        if data is None:
            return None
        return self.append(LEDGER_EVENTS, "head-accepted", data, actor=actor, reanchor=True)

    # -- locks -----------------------------------------------------------------------------

    def lock(self, environment: str) -> Lock | None:
        rows = self._rows("SELECT * FROM locks WHERE environment = ?", environment)
        return Lock(*rows[0]) if rows else None

    def acquire(self, environment: str, holder: str) -> Lock:
        """Take the environment's lock, or take over one left by a dead process or an expired
        lease; raise LockHeld naming the holder and since when otherwise."""
        mine = new_lock(environment, holder)
        with self._writing() as db:
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
        with self._writing() as db:
            db.execute(
                "DELETE FROM locks WHERE environment = ? AND pid = ? AND host = ?",
                (lock.environment, lock.pid, lock.host),
            )


def open_ledger(root: Path, location: str | None = None, *, reading: bool = False) -> Ledger:
    """`s3://bucket/prefix` for a team's ledger on S3, else a SQLite file (default
    .shipyard/ledger.db). Only the default ledger is created with its folder: a location given
    that holds no ledger is a mistake for a reader, and for a writer its folder must exist (a
    typo never silently starts a ledger the gate does not read)."""
    if location is not None and not location.strip():
        raise UsageError(
            "the ledger location is empty (--ledger, $SHIPYARD_LEDGER or `ledger:`): give a "
            "file path or s3://bucket/prefix, or none for .shipyard/ledger.db"
        )
    if location and location.startswith("s3://"):
        from rollout.ledger_s3 import S3Ledger

        return S3Ledger(location)
    target = Path(location) if location else root / DEFAULT_PATH
    if target.exists() and target.is_dir():
        raise UsageError(f"{target}: is a folder; --ledger takes a file path or s3://bucket/prefix")
    ledger = SqliteLedger(target)
    if location and not (target.exists() or ledger.head_path.exists()):
        where = "check the path (--ledger, $SHIPYARD_LEDGER or `ledger:` in the stack config)"
        if reading:
            raise UsageError(f"no ledger at {target}: {where}")
        if not target.parent.is_dir():
            raise UsageError(
                f"no ledger at {target} and no folder {target.parent} to start one in: {where}; "
                "a new ledger at a path you name needs its folder to exist"
            )
    return ledger
