"""Fixtures for the integration tier."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

from rollout.platforms.local.processes import stop
from tests.sample_app import start_sample

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
        url, pid, when = start_sample(tmp_path, version, wait, **knobs)
        started.append((pid, when))
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
