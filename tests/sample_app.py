"""Start the sample service (examples/app/server.py) on a free loopback port."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import httpx

from rollout.platforms.local.processes import free_port, spawn, started_at

SERVER = Path(__file__).resolve().parents[1] / "examples" / "app" / "server.py"


def start_sample(
    logs: Path, version: str = "v1", wait: bool = True, **knobs: str
) -> tuple[str, int, int | None]:
    """(URL, pid, start time) of a new sample process with these fault knobs (APP_*); with
    `wait`, once its port answers (10 s at most)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("APP_")}
    env.update(knobs)
    argv = [sys.executable, str(SERVER), "--port", str(port), "--version", version]
    pid = spawn(argv, env, logs / f"app-{port}.log")
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while wait and time.monotonic() < deadline:
        try:
            httpx.get(url + "/version", timeout=0.5)
            break
        except httpx.HTTPError:
            time.sleep(0.02)
    return url, pid, started_at(pid)
