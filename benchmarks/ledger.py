"""Ledger figures: SQLite append throughput, `metrics` over 100,000 events (target < 2 s),
and appends per second on the S3 ledger against moto server (127.0.0.1)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

from rollout.ledger import GENESIS, SCHEMA, SqliteLedger, event_hash  # noqa: E402
from rollout.metrics import compute  # noqa: E402

EVENTS = 100_000


def bulk_ledger(path: Path, count: int) -> SqliteLedger:
    """A chained ledger of `count` events: rollouts of 5 events each over 90 days."""
    ledger = SqliteLedger(path)
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=90)
    rows, prev = [], GENESIS
    for seq in range(1, count + 1):
        rollout_index, step = divmod(seq - 1, 5)
        at = (start + dt.timedelta(seconds=60 * seq)).isoformat(timespec="milliseconds")
        env = ("dev", "staging", "prod")[rollout_index % 3]
        rollout = f"r{rollout_index}"
        if step == 0:
            kind, data = (
                "release",
                {
                    "service": "web",
                    "version": f"v{rollout_index}",
                    "commit": "c",
                    "purpose": "deploy",
                    "commit_time": at,
                },
            )
        elif step == 4:
            kind = "outcome"
            data = {"status": "rolled-back" if rollout_index % 10 == 0 else "succeeded"}
        else:
            kind, data = "step-finished", {"index": step}
        text = json.dumps(data, sort_keys=True)
        digest = event_hash(prev, seq, at, env, rollout, kind, "bench", text)
        rows.append((seq, at, env, rollout, kind, "bench", text, prev, digest))
        prev = digest
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA)
        db.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    ledger.accept_head("bench")  # written around shipyard: anchor its head checkpoint
    return ledger


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=EVENTS, help="events for metrics/verify")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smallest size, one run: proves the benchmark still works (tests run this)",
    )
    args = parser.parse_args()
    events_wanted, appends, s3_appends = (1000, 50, 10) if args.quick else (args.events, 1000, 200)
    with tempfile.TemporaryDirectory(prefix="shipyard-bench-") as tmp:
        appender = SqliteLedger(Path(tmp) / "append.db")
        began = time.perf_counter()
        for index in range(appends):
            appender.append("dev", "check", {"index": index})
        append_rate = appends / (time.perf_counter() - began)
        print(f"SQLite append (fsync per event): {append_rate:.0f} events/s")

        ledger = bulk_ledger(Path(tmp) / "big.db", events_wanted)
        began = time.perf_counter()
        events = ledger.events()
        metrics = compute(events, since_days=90)
        elapsed = time.perf_counter() - began
        print(
            f"metrics over {len(events):,} events ({metrics.deploys:,} deploys): {elapsed:.2f} s "
            f"({'meets' if elapsed < 2 else 'misses'} < 2 s)"
        )
        began = time.perf_counter()
        problems = ledger.verify()
        print(
            f"ledger verify over {events_wanted:,} events: {time.perf_counter() - began:.2f} s "
            f"({len(problems)} problems)"
        )

    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto server's access log
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    os.environ.update(
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL_S3=f"http://{host}:{port}",
    )
    try:
        import boto3

        from rollout.ledger_s3 import S3Ledger

        bucket = f"bench-{uuid.uuid4().hex[:8]}"
        boto3.client("s3").create_bucket(Bucket=bucket)
        s3 = S3Ledger(f"s3://{bucket}/ledger")
        s3.append("dev", "check", {"warm": True})
        count = s3_appends
        began = time.perf_counter()
        for index in range(count):
            s3.append("dev", "check", {"index": index})
        rate = count / (time.perf_counter() - began)
        print(
            f"S3 ledger append against moto server: {rate:.0f} events/s "
            f"(over {count} events; each append reads the head checkpoint, lists and reads "
            "the chain's end, writes the event and the checkpoint)"
        )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
