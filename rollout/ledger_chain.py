"""The ledger's chain: how a chain of records (rollout/ledger_records.py) is verified against
its head checkpoint, which key an append signs with, the per-environment lock, and the Ledger
protocol with what works on any ledger (copy, refuse one that fails verification); shared by
the SQLite and S3 ledgers.

Each event's hash covers its content and the previous event's hash, so editing, reordering or
deleting an event breaks the chain from that point, and `verify` names where; the head
checkpoint (rollout/ledger_head.py) catches what the chain cannot: a cut tail, an emptied
ledger, a chain rewritten with recomputed hashes.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from dataclasses import dataclass
from typing import Any, Protocol

from rollout.ledger_head import (
    KEY_ENV,
    RUNBOOK,
    Head,
    LedgerUnverified,
    head_problems,
    key_path,
    ledger_key,
    unverified,
)
from rollout.ledger_records import (
    FIELDS,
    Event,
    LedgerDamaged,
    event_hash,
    event_text,
    events_from,
    now_text,
    record_damage,
    verify_records,
)
from shipyard.errors import CheckFailed, UsageError

__all__ = [  # the records' names, for the ledgers that import them from here
    "FIELDS",
    "Event",
    "LedgerDamaged",
    "event_hash",
    "event_text",
    "events_from",
    "now_text",
    "record_damage",
    "verify_records",
]

LEASE_SECONDS = 600
LEDGER_EVENTS = "ledger"  # the environment of events about the ledger itself


@dataclass(frozen=True)
class Lock:
    environment: str
    holder: str
    host: str
    pid: int
    since: str
    lease_until: str


class LockHeld(CheckFailed):
    """Another deploy holds the environment."""


def verify_chain(records: list[Any], head: Head | str | None, where: str) -> list[str]:
    """The chain's problems, then its head checkpoint's (checked with the key found here)."""
    hashes = {r[0]: r[8] for r in records if len(r) == len(FIELDS)}
    last = records[-1][0] if records and isinstance(records[-1][0], int) else max(hashes, default=0)
    return verify_records(records) + head_problems(
        head, last, hashes.get, where, ledger_key(create=False)
    )


def head_to_accept(
    records: list[Any], head: Head | str | None, where: str
) -> dict[str, Any] | None:
    """What re-anchoring the checkpoint at the chain's end records; None when it matches.
    A broken chain is never accepted: it is restored from a backup."""
    chain = verify_records(records)
    if chain:
        raise LedgerUnverified(
            f"the chain itself is broken ({chain[0]}): restore the ledger from a backup "
            f"({RUNBOOK}); --accept-head only re-anchors an intact chain"
        )
    key = ledger_key(create=False)
    if key is None:
        raise UsageError(
            f"no ledger key here ({key_path()} or ${KEY_ENV}): a re-anchored checkpoint must "
            f"be signed with the key this ledger's writers use; set ${KEY_ENV} to it (never "
            "a new key: that would vouch for whatever the ledger now holds)"
        )
    hashes = {record[0]: record[8] for record in records}
    last = records[-1][0] if records else 0
    problems = head_problems(head, last, hashes.get, where, key)
    if not problems:
        return None
    previous = {"seq": head.seq, "hash": head.hash} if isinstance(head, Head) else None
    return {"problems": problems, "previous_head": previous, "chain_end": last}


def append_key(head: Head | str | None, last: int) -> bytes | None:
    """The key an append signs with: created only for a new ledger's first event (no events,
    no checkpoint); any other ledger needs the key that signed it, so a refused or misdirected
    write leaves no stray key behind."""
    return ledger_key(create=head is None and last == 0)


def missing_key() -> UsageError:
    return UsageError(
        f"no ledger key here ({key_path()} or ${KEY_ENV}): set ${KEY_ENV} to the key this "
        "ledger's writers use"
    )


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

    def accept_head(self, actor: str) -> Event | None: ...

    def lock(self, environment: str) -> Lock | None: ...

    def acquire(self, environment: str, holder: str) -> Lock: ...

    def release(self, lock: Lock) -> None: ...


def require_verified(ledger: Ledger) -> None:
    """Refuse (exit 1, one line naming `shipyard ledger verify` and the runbook) a ledger that
    fails verification: nothing may be decided or measured from it."""
    problems = ledger.verify()
    if problems:
        raise unverified(ledger.path, problems)


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
