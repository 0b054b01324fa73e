"""The ledger's head checkpoint: the last event's number and hash, with an HMAC under a key
kept outside the ledger, stored next to the chain (`<ledger>.head`, or `head.json` on S3).

The hash chain alone proves only that the events present follow each other: cutting its tail,
emptying the file or rewriting events and recomputing every hash leaves a chain that verifies.
The checkpoint names where the chain ended when shipyard last wrote it, and only a holder of
the key can move it. What this proves and what it cannot: docs/delivery.md.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import stat
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from shipyard.errors import CheckFailed, UsageError

GENESIS = "0" * 64  # what the first event follows, and where a new ledger's head points
KEY_ENV = "SHIPYARD_LEDGER_KEY"
MIN_KEY_CHARS = 16
RUNBOOK = 'docs/runbook.md, "The ledger fails verification"'
MAX_HEAD_BYTES = 64 * 1024  # a checkpoint is under 300 bytes: anything far larger is not one


@dataclass(frozen=True)
class Head:
    seq: int
    hash: str
    key: str  # the signing key's fingerprint: tells "another key" from "forged"
    mac: str

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()


class LedgerUnverified(CheckFailed):
    """The ledger fails verification: nothing may be decided from it or added to it."""


def key_path() -> Path:
    """$XDG_CONFIG_HOME/shipyard/ledger.key, else ~/.config/shipyard/ledger.key."""
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "shipyard" / "ledger.key"


def ledger_key(create: bool) -> bytes | None:
    """$SHIPYARD_LEDGER_KEY, else the key file; a writer creates the file (0600) on first use,
    a reader never does."""
    given = os.environ.get(KEY_ENV)
    if given is not None:
        if len(given.strip()) < MIN_KEY_CHARS:
            raise UsageError(
                f"${KEY_ENV} is shorter than {MIN_KEY_CHARS} characters: use a random one, "
                "e.g. `openssl rand -hex 32`"
            )
        return given.strip().encode()
    path = key_path()
    try:
        if not path.exists() and create:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            try:
                descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # another writer made it first: use theirs
            else:
                with os.fdopen(descriptor, "w") as file:
                    file.write(secrets.token_hex(32) + "\n")
        return path.read_bytes().strip() if path.exists() else None
    except OSError as exc:
        raise UsageError(
            f"cannot read or create the ledger key {path} ({exc.strerror}): fix its "
            f"permissions, or set ${KEY_ENV}"
        ) from None


def fingerprint(key: bytes) -> str:
    return hashlib.sha256(b"shipyard-ledger-key:" + key).hexdigest()[:16]


def _mac(key: bytes, seq: int, digest: str) -> str:
    return hmac.new(key, f"shipyard-ledger-head:{seq}:{digest}".encode(), "sha256").hexdigest()


def sign(key: bytes, seq: int, digest: str) -> Head:
    return Head(seq, digest, fingerprint(key), _mac(key, seq, digest))


def parse_head(body: bytes) -> Head:
    """A stored checkpoint; ValueError when it is not one."""
    try:
        fields: dict[str, Any] = json.loads(body)
        return Head(int(fields["seq"]), str(fields["hash"]), str(fields["key"]), str(fields["mac"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"not a head checkpoint ({exc})") from None


def head_problems(
    head: Head | str | None,
    last: int,
    hash_at: Callable[[int], str | None],
    where: str,
    key: bytes | None,
) -> list[str]:
    """What the checkpoint says is wrong with a chain ending at event `last` (0: empty);
    `head` is the checkpoint, a reason it could not be read, or None when there is none."""
    if isinstance(head, str):
        return [f"the head checkpoint {where} is unreadable ({head})"]
    if head is None:  # a writer anchors a new ledger before its first event
        return (
            [
                f"events up to {last} but no head checkpoint at {where}: it was deleted, or the "
                "ledger predates checkpoints"
            ]
            if last
            else []
        )
    if key is None:
        return [
            f"no ledger key here to check the head checkpoint: set ${KEY_ENV} to the key "
            "this ledger's writers use"
        ]
    if head.key != fingerprint(key):
        return [
            f"the head checkpoint was signed with another key ({head.key}; the key here is "
            f"{fingerprint(key)}): either this machine lacks the writers' key or someone "
            "re-signed the ledger with their own; if your team's key fingerprint is "
            f"{head.key}, set ${KEY_ENV} to that key, otherwise the ledger was re-signed: "
            "restore it, never --accept-head"
        ]
    if not hmac.compare_digest(head.mac, _mac(key, head.seq, head.hash)):
        return ["the head checkpoint's signature does not match its content: it was rewritten"]
    if head.seq > last:
        ending = f"ends at event {last}" if last else "has no events"
        return [
            f"the ledger {ending} but its head checkpoint names event {head.seq}: events were "
            "removed from its end"
        ]
    if (GENESIS if head.seq == 0 else hash_at(head.seq)) != head.hash:
        return [
            f"event {head.seq} is not the event the head checkpoint names ({head.hash[:12]}): "
            "the events were rewritten"
        ]
    if last - head.seq > 1:  # a writer stopped between its event and checkpoint leaves one
        return [
            f"{last - head.seq} events lie beyond the head checkpoint (event {head.seq}): "
            "shipyard leaves at most one, so they were added outside it"
        ]
    return []


def unverified(path: object, problems: list[str]) -> LedgerUnverified:
    """The one-line refusal for a ledger that fails verification."""
    more = f" and {len(problems) - 1} more" if len(problems) > 1 else ""
    return LedgerUnverified(
        f"the ledger at {path} fails verification ({problems[0]}{more}): nothing in it can "
        f"be trusted; run `shipyard ledger verify` and follow {RUNBOOK}"
    )


def parse_capped(body: bytes) -> Head | str:
    """A checkpoint read with at most MAX_HEAD_BYTES + 1 bytes, or why it is not one."""
    if len(body) > MAX_HEAD_BYTES:
        return f"larger than {MAX_HEAD_BYTES // 1024} KiB: not a checkpoint"
    try:
        return parse_head(body)
    except ValueError as exc:
        return str(exc)


def read_head_file(path: Path) -> Head | str | None:
    """Only a regular file, and only its first bytes: a link to /dev/zero or a FIFO never
    hangs a reader, a huge file never fills its memory."""
    try:
        # O_NONBLOCK: opening a FIFO would otherwise wait for a writer (open(2)).
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return exc.strerror or str(exc)
    with os.fdopen(descriptor, "rb") as file:
        try:
            if not stat.S_ISREG(os.fstat(descriptor).st_mode):
                return "not a regular file"
            return parse_capped(file.read(MAX_HEAD_BYTES + 1))
        except OSError as exc:
            return exc.strerror or str(exc)


def write_head_file(path: Path, head: Head, replace: bool = False) -> None:
    """Replace the checkpoint atomically (a reader sees the old one or the new one), unless
    a racing writer already put a later one there (`replace`: re-anchoring, whatever is there)."""
    current = read_head_file(path)
    if not replace and isinstance(current, Head) and current.seq >= head.seq:
        return
    descriptor, partial = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    with os.fdopen(descriptor, "wb") as file:
        file.write(head.to_json())
        file.flush()
        os.fsync(file.fileno())
    os.replace(partial, path)
