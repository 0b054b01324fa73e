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
    LEDGER_EVENTS,
    Event,
    Lock,
    event_content,
    event_hash,
    head_to_accept,
    lock_held_error,
    lock_is_live,
    new_lock,
    verify_chain,
    writer_key,
)
from rollout.ledger_head import GENESIS, Head, head_problems, parse_head, sign, unverified
from shipyard.errors import UsageError

MAX_RACES = 20


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

    def _records(self) -> list[dict[str, Any]]:
        keys = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._key("events/")
        ):
            keys += [item["Key"] for item in page.get("Contents", [])]
        records = [
            json.loads(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())
            for key in sorted(keys)
        ]
        return sorted(records, key=lambda r: r["seq"])

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
            record = json.loads(
                self.s3.get_object(Bucket=self.bucket, Key=max(keys))["Body"].read()
            )
            self._tail = (int(record["seq"]), str(record["hash"]))
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
        text, at = event_content(data, at)
        key = writer_key()
        for _ in range(MAX_RACES):
            head = self._head()  # before the end: a racing writer's checkpoint never outruns it
            last_seq, prev = self._last()

            def hash_at(n: int, last: int = last_seq, known: str = prev) -> str | None:
                return known if n == last else self._hash_at(n)

            problems = head_problems(head, last_seq, hash_at, self.head_url, key)
            if problems and not reanchor:
                raise unverified(self.url, problems)
            if head is None and last_seq == 0:  # a new ledger: anchored before its first event
                self._put_head(sign(key, 0, GENESIS))
            seq = last_seq + 1
            digest = event_hash(prev, seq, at, environment, rollout, kind, actor, text)
            record = {
                "seq": seq,
                "at": at,
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
                if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "412"):
                    continue  # another writer took this number: read the end again
                raise
            # Not read again: a racing writer's later checkpoint may be replaced by this one,
            # which leaves it one event behind (still verifies; the next append moves it on).
            self._put_head(sign(key, seq, digest))
            return Event(seq, at, environment, rollout, kind, actor, data, prev, digest)
        raise RuntimeError(f"could not append to {self.url}: {MAX_RACES} writers raced")

    def events(self, environment: str | None = None, rollout: str | None = None) -> list[Event]:
        events = []
        for r in self._records():
            if (environment is None or r["environment"] == environment) and (
                rollout is None or r["rollout"] == rollout
            ):
                seq, at, env, run, kind, actor, text, prev, digest = _row(r)
                events.append(Event(seq, at, env, run, kind, actor, json.loads(text), prev, digest))
        return events

    def verify(self) -> list[str]:
        head = self._head()  # first: a later checkpoint never outruns the events listed
        return verify_chain([_row(r) for r in self._records()], head, self.head_url)

    def accept_head(self, actor: str) -> Event | None:
        data = head_to_accept([_row(r) for r in self._records()], self._head(), self.head_url)
        if data is None:
            return None
        return self.append(LEDGER_EVENTS, "head-accepted", data, actor=actor, reanchor=True)

    @property
    def head_key(self) -> str:
        return self._key("head.json")

    @property
    def head_url(self) -> str:
        return f"s3://{self.bucket}/{self.head_key}"

    def _head(self) -> Head | str | None:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=self.head_key)["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return None
        try:
            return parse_head(body)
        except ValueError as exc:
            return str(exc)

    def _put_head(self, head: Head) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=self.head_key, Body=head.to_json())

    def _hash_at(self, seq: int) -> str | None:
        try:
            body = self.s3.get_object(
                Bucket=self.bucket, Key=self._key("events", f"{seq:012d}.json")
            )
        except self.s3.exceptions.NoSuchKey:
            return None
        return str(json.loads(body["Body"].read())["hash"])

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


FIELDS = ("seq", "at", "environment", "rollout", "kind", "actor", "data", "prev_hash", "hash")


def _row(record: dict[str, Any]) -> tuple[Any, ...]:
    """An event object's fields in the chain's order (`data` still as stored text)."""
    return tuple(record[field] for field in FIELDS)
