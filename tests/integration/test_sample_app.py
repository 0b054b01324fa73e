"""The sample service as its own process: routes, headers, and graceful shutdown."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import httpx

from rollout.platforms.local.processes import free_port
from tests.sample_app import SERVER


def start(port: int, **knobs: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("APP_")}
    env.update(knobs)
    process = subprocess.Popen(
        [sys.executable, str(SERVER), "--port", str(port), "--version", "v5", "--color", "green"],
        env=env,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            return process
        except httpx.HTTPError:
            time.sleep(0.02)
    process.kill()
    raise AssertionError("the sample service did not start")


def test_routes_and_headers() -> None:
    port = free_port()
    process = start(port)
    try:
        base = f"http://127.0.0.1:{port}"
        version = httpx.get(f"{base}/version")
        assert version.json() == {"version": "v5", "color": "green"}
        assert version.headers["X-App-Version"] == "v5"
        assert version.headers["X-App-Color"] == "green"
        assert httpx.get(f"{base}/healthz").status_code == 200
        assert "hello" in httpx.get(f"{base}/").text
        missing = httpx.get(f"{base}/nope")
        assert missing.status_code == 404
        assert missing.headers["X-App-Version"] == "v5"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_sigterm_finishes_in_flight_requests_then_exits() -> None:
    port = free_port()
    process = start(port, APP_LATENCY_MS="600")
    results: list[int] = []

    def slow_request() -> None:
        results.append(httpx.get(f"http://127.0.0.1:{port}/version", timeout=5).status_code)

    thread = threading.Thread(target=slow_request)
    thread.start()
    time.sleep(0.2)  # the request is now in flight (it takes 600 ms)
    process.send_signal(signal.SIGTERM)
    thread.join(timeout=5)
    assert results == [200]
    assert process.wait(timeout=5) == 0
    try:
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5)
        raise AssertionError("the port still accepts connections")
    except httpx.ConnectError:
        pass


def test_a_knob_can_apply_to_named_versions_only() -> None:
    port = free_port()
    process = start(port, APP_FAIL_HEALTH="1@v4,v5")
    other_port = free_port()
    other = start(other_port, APP_FAIL_HEALTH="1@v4")
    try:
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 503  # runs v5
        assert httpx.get(f"http://127.0.0.1:{other_port}/healthz").status_code == 200
    finally:
        for proc in (process, other):
            proc.terminate()
            proc.wait(timeout=10)
