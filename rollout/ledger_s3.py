"""The team ledger on S3: one immutable object per event, locks as conditional puts.

    s3://bucket/prefix/events/000000000042.json   event 42 (never overwritten)
    s3://bucket/prefix/locks/prod.json            prod's lock while a deploy runs
    s3://bucket/prefix/head.json                  the head checkpoint (rollout/ledger_head.py)

An event is written with `If-None-Match: *`: when two writers race for the same number, S3
accepts one and the other re-reads the chain's end and tries the next number. The hash chain
and the head checkpoint are the SQLite ledger's, so `verify` and `ledger copy` work across both.
With bucket versioning on, every earlier head.json and every deleted event stays recoverable
(docs/delivery.md).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from typing import Any

from rollout.ledger_chain import (
    FIELDS,
    LEDGER_EVENTS,
    Event,
    LedgerDamaged,
    Lock,
    append_key,
    event_hash,
    event_text,
    events_from,
    head_to_accept,
    lock_held_error,
    lock_is_live,
    missing_key,
    new_lock,
    now_text,
    record_damage,
    verify_chain,
)
from rollout.ledger_head import (
    GENESIS,
    MAX_HEAD_BYTES,
    Head,
    head_problems,
    parse_capped,
    sign,
    unverified,
)
from shipyard.errors import UsageError

MAX_RACES = 20
# A conditional write that lost: 412, or 409 when another conditional write to the key was
# in flight (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-requests.html).
LOST_RACE = ("PreconditionFailed", "412", "ConditionalRequestConflict", "409")


def parse_s3_url(url: str) -> tuple[str, str]:
    if not url.startswith("s3://") or len(url) <= 5:
        raise UsageError(f"{url!r}: an S3 ledger is s3://bucket/prefix")
    bucket, _, prefix = url[5:].partition("/")
    return bucket, prefix.strip("/")


class S3Ledger:
    def __init__(self, url: str, client: Any | None = None) -> None:
        from shipyard.aws import Aws

        self.url = url
        self.path = url  # what messages print
        self.bucket, prefix = parse_s3_url(url)
        self.prefix = f"{prefix}/" if prefix else ""
        # Conditional writes lose races on purpose: only access denied is translated.
        self.s3 = client or Aws(None, os.environ.get("AWS_ENDPOINT_URL")).client(
            "s3", translate_all=False
        )
        self._tail: tuple[int, str] = (0, GENESIS)

    def _key(self, *parts: str) -> str:
        return self.prefix + "/".join(parts)

    def _records(self) -> list[tuple[Any, ...]]:
        """Every event object as a record in the chain's order (its key's zero-padded number);
        an object that is not an event's JSON comes back as (its number,), which verify
        reports as damaged."""
        keys = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._key("events/")
        ):
            keys += [item["Key"] for item in page.get("Contents", [])]
        return [
            _row(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read(), key)
            for key in sorted(keys)
        ]

    def _last(self) -> tuple[int, str]:
        """The chain's end: only keys after the end seen last time are listed."""
        seq, digest = self._tail
        after = self._key("events", f"{seq:012d}.json") if seq else ""
        keys = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._key("events/"), StartAfter=after
        ):
            keys += [item["Key"] for item in page.get("Contents", [])]
        if keys:
            row = _row(
                self.s3.get_object(Bucket=self.bucket, Key=max(keys))["Body"].read(), max(keys)
            )
            damage = record_damage(row)
            if damage is not None:
                raise LedgerDamaged(self.url, f"event {row[0]} is damaged: {damage}")
            self._tail = (int(row[0]), str(row[8]))
        return self._tail

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
        """The SQLite ledger's append: refused when the head checkpoint does not match the
        chain's end, the checkpoint moved on after the event is written."""
        text = event_text(data)
        for attempt in range(MAX_RACES):
            head, _tag = self._read_head()  # before the end: never outruns it
            last_seq, prev = self._last()
            key = append_key(head, last_seq)

            def hash_at(n: int, last: int = last_seq, known: str = prev) -> str | None:
                return known if n == last else self._hash_at(n)

            problems = head_problems(head, last_seq, hash_at, self.head_url, key)
            if problems and not reanchor:
                if attempt == 0:  # a racing writer moved both since: read them again
                    continue
                raise unverified(self.url, problems)
            if key is None:
                raise missing_key()
            if head is None and last_seq == 0:  # a new ledger: anchored before its first event
                self._move_head(sign(key, 0, GENESIS))
            elif not problems and isinstance(head, Head) and head.seq < last_seq:
                # the one event a writer may have left unsigned: so no more than one lies beyond
                self._move_head(sign(key, last_seq, prev))
            seq = last_seq + 1
            when = at or now_text()  # after reading the end: times follow the chain's order
            digest = event_hash(prev, seq, when, environment, rollout, kind, actor, text)
            record = {
                "seq": seq,
                "at": when,
                "environment": environment,
                "rollout": rollout,
                "kind": kind,
                "actor": actor,
                "data": text,
                "prev_hash": prev,
                "hash": digest,
            }
            try:
                self.s3.put_object(
                    Bucket=self.bucket,
                    Key=self._key("events", f"{seq:012d}.json"),
                    Body=json.dumps(record).encode(),
                    IfNoneMatch="*",
                )
            except self.s3.exceptions.ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in LOST_RACE:
                    continue  # another writer took this number: read the end again
                raise
            self._move_head(sign(key, seq, digest), replace=reanchor)
            return Event(seq, when, environment, rollout, kind, actor, data, prev, digest)
        raise RuntimeError(f"could not append to {self.url}: {MAX_RACES} writers raced")

    def events(self, environment: str | None = None, rollout: str | None = None) -> list[Event]:
        return [
            event
            for event in events_from(self._records(), self.url)
            if (environment is None or event.environment == environment)
            and (rollout is None or event.rollout == rollout)
        ]

    def verify(self) -> list[str]:
        head, _ = self._read_head()  # first: a later checkpoint never outruns the events listed
        return verify_chain(self._records(), head, self.head_url)

    def accept_head(self, actor: str) -> Event | None:
        data = head_to_accept(self._records(), self._read_head()[0], self.head_url)
        if data is None:
            return None
        return self.append(LEDGER_EVENTS, "head-accepted", data, actor=actor, reanchor=True)

    @property
    def head_key(self) -> str:
        return self._key("head.json")

    @property
    def head_url(self) -> str:
        return f"s3://{self.bucket}/{self.head_key}"

    def _read_head(self) -> tuple[Head | str | None, str | None]:
        """The checkpoint (or why it is not one, read no further than a checkpoint could be
        long) and its ETag; (None, None) when there is none."""
        try:
            found = self.s3.get_object(Bucket=self.bucket, Key=self.head_key)
        except self.s3.exceptions.NoSuchKey:
            return None, None
        return parse_capped(found["Body"].read(MAX_HEAD_BYTES + 1)), str(found["ETag"])

    def _move_head(self, head: Head, replace: bool = False) -> None:
        """Put the checkpoint only over the one just read (If-Match its ETag, or If-None-Match
        when there is none), so racing writers move it forward only; a later one already there
        stays (`replace`: re-anchoring, whatever is there)."""
        for _ in range(MAX_RACES):
            current, tag = self._read_head()
            if not replace and isinstance(current, Head) and current.seq >= head.seq:
                return
            condition = {"IfMatch": tag} if tag else {"IfNoneMatch": "*"}
            try:
                self.s3.put_object(
                    Bucket=self.bucket, Key=self.head_key, Body=head.to_json(), **condition
                )
                return
            except self.s3.exceptions.NoSuchKey:
                continue  # deleted since it was read
            except self.s3.exceptions.ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in LOST_RACE:
                    raise
        raise RuntimeError(f"could not move {self.head_url}: {MAX_RACES} writers raced")

    def _hash_at(self, seq: int) -> str | None:
        try:
            body = self.s3.get_object(
                Bucket=self.bucket, Key=self._key("events", f"{seq:012d}.json")
            )
        except self.s3.exceptions.NoSuchKey:
            return None
        row = _row(body["Body"].read(), f"{seq}")
        return str(row[8]) if record_damage(row) is None else None

    def lock(self, environment: str) -> Lock | None:
        try:
            body = self.s3.get_object(
                Bucket=self.bucket, Key=self._key("locks", f"{environment}.json")
            )
        except self.s3.exceptions.NoSuchKey:
            return None
        return Lock(**json.loads(body["Body"].read()))

    def acquire(self, environment: str, holder: str) -> Lock:
        mine = new_lock(environment, holder)
        key = self._key("locks", f"{environment}.json")
        for _ in range(2):
            try:
                self.s3.put_object(
                    Bucket=self.bucket,
                    Key=key,
                    IfNoneMatch="*",
                    Body=json.dumps(asdict(mine)).encode(),
                )
                return mine
            except self.s3.exceptions.ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in ("PreconditionFailed", "412"):
                    raise
            held = self.lock(environment)
            if held is not None and lock_is_live(held):
                raise lock_held_error(held)
            # Left by a dead process or an expired lease: clear it and try once more.
            self.s3.delete_object(Bucket=self.bucket, Key=key)
        held = self.lock(environment)
        raise lock_held_error(held or mine)

    def release(self, lock: Lock) -> None:
        held = self.lock(lock.environment)
        if held is not None and (held.pid, held.host) == (lock.pid, lock.host):
            self.s3.delete_object(
                Bucket=self.bucket, Key=self._key("locks", f"{lock.environment}.json")
            )


def _row(body: bytes, key: str) -> tuple[Any, ...]:
    """An event object's fields in the chain's order (`data` still as stored text); (its
    number,) when it is not an event's JSON."""
    try:
        record = json.loads(body)
    except ValueError:
        record = None
    if isinstance(record, dict) and all(field in record for field in FIELDS):
        return tuple(record[field] for field in FIELDS)
    number = key.rsplit("/", 1)[-1].removesuffix(".json")
    return (int(number) if number.isdigit() else number,)
