"""Fixtures for the integration tier."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from moto.server import ThreadedMotoServer

from rollout.platforms.local.processes import free_port, spawn, started_at, stop
from tests.conftest import REPO

SERVER = REPO / "examples" / "app" / "server.py"
Start = Callable[..., str]


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    """A moto server on 127.0.0.1 and a free port, for one test module."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def sample(tmp_path: Path) -> Iterator[Start]:
    """Start the sample service with fault knobs; yields its URL once the port answers."""
    started: list[tuple[int, int | None]] = []

    def start(version: str = "v1", wait: bool = True, **knobs: str) -> str:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("APP_")}
        env.update(knobs)
        pid = spawn(
            [sys.executable, str(SERVER), "--port", str(port), "--version", version],
            env,
            tmp_path / f"app-{port}.log",
        )
        started.append((pid, started_at(pid)))
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 10
        while wait and time.monotonic() < deadline:
            try:
                httpx.get(url + "/version", timeout=0.5)
                break
            except httpx.HTTPError:
                time.sleep(0.02)
        return url

    yield start
    for pid, when in started:
        stop(pid, when)


@pytest.fixture
def calls_within_policy() -> Iterator[None]:
    """After the test: every AWS call it made (in this process) is granted by the deployer's
    least-privilege policy (docs/iam/)."""
    from shipyard import aws
    from tests.iam import not_granted

    aws.CALLS.clear()
    yield
    assert not not_granted(set(aws.CALLS)), not_granted(set(aws.CALLS))
