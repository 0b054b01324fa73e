"""Steady background traffic for rehearsals on the local platform.

A release is only analysed with enough requests (`analysis.minRequests`): with nobody using
the local services, a rollout's analysis would stay inconclusive. `shipyard local traffic ENV`
starts one detached process that sends paced GET requests to every service's production URL
(127.0.0.1 only) and stops by itself after `--seconds`; `local down` and `--stop` stop it
earlier. It is a stand-in for users, bounded in rate and time, never a load test.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from rollout.load import require_loopback
from rollout.platforms.local.lock import require_writable
from rollout.platforms.local.processes import alive, spawn, started_at, stop
from rollout.platforms.local.state import LocalState


def _record(state: LocalState) -> Path:
    return state.directory / "traffic.json"


def running_traffic(state: LocalState) -> dict[str, Any] | None:
    """The running traffic process (pid, started, until), or None."""
    path = _record(state)
    if not path.is_file():
        return None
    record = json.loads(path.read_text(encoding="utf-8"))
    if not alive(record["pid"]) or started_at(record["pid"]) != record["started"]:
        with contextlib.suppress(OSError):  # a read-only .shipyard: the next writer cleans up
            path.unlink(missing_ok=True)
        return None
    return dict(record)


def start_traffic(state: LocalState, seconds: float, rate: float) -> dict[str, Any]:
    """Replace any running traffic with a new process; return its record."""
    require_writable(state.directory, state.directory / "logs")  # its record and its log
    stop_traffic(state)
    argv = [sys.executable, "-m", "rollout.platforms.local.traffic"]
    argv += ["--seconds", f"{seconds:g}", "--rate", f"{rate:g}"]
    argv += [service.url for service in state.services]
    log = state.directory / "logs" / "traffic.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    pid = spawn(argv, dict(os.environ), log)
    record = {"pid": pid, "started": started_at(pid), "until": time.time() + seconds}
    _record(state).write_text(json.dumps(record), encoding="utf-8")
    return record


def stop_traffic(state: LocalState) -> bool:
    """Stop the traffic process, then forget it (when .shipyard can be written)."""
    record = running_traffic(state)
    if record is not None:
        stop(record["pid"], record["started"])
    with contextlib.suppress(OSError):
        _record(state).unlink(missing_ok=True)
    return record is not None


def send(urls: list[str], seconds: float, rate: float) -> int:
    """Paced requests, round robin over the URLs, until `seconds` have passed."""
    import httpx

    for url in urls:
        require_loopback(url)
    interval = 1.0 / rate
    deadline = time.monotonic() + seconds
    sent = 0
    with httpx.Client(timeout=5.0) as client:
        next_at = time.monotonic()
        while time.monotonic() < deadline:
            try:
                client.get(urls[sent % len(urls)])
            except httpx.HTTPError:
                pass  # a color being replaced; the analysis counts what HAProxy saw
            sent += 1
            next_at += interval
            time.sleep(max(0.0, next_at - time.monotonic()))
    return sent


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("urls", nargs="+")
    args = parser.parse_args(argv)
    sent = send(args.urls, args.seconds, args.rate)
    print(f"sent {sent} requests in {args.seconds:g} s", flush=True)


if __name__ == "__main__":
    main()
