"""Smoke against a test URL that cannot be connected to: it fails fast, once, naming the
setting to change; a refused connection (an app still starting) is retried as before."""

from __future__ import annotations

import socket

import httpx

from smoke import load_spec, run_smoke
from smoke.runner import CONNECT_TIMEOUT_SECONDS, TIMEOUT, never_answered
from tests.integration.silent import silent_port

QUICK = httpx.Timeout(10.0, connect=0.3)


def test_a_port_that_drops_connects_ends_the_run_after_one_attempt() -> None:
    waits: list[float] = []
    with silent_port() as port:
        report = run_smoke(
            f"http://user:pw@127.0.0.1:{port}", load_spec(), sleep=waits.append, timeout=QUICK
        )
    assert not report.passed
    assert [(r.name, r.attempts, r.status) for r in report.results] == [("ready", 1, None)]
    assert report.results[0].problems == [
        f"cannot connect to 127.0.0.1:{port} within 0.3 s (no answer: packets dropped, as a "
        "security group does to an address it does not admit); if this is a shipyard test "
        "listener on AWS, add the address this runs from to network.testAccessCidrs "
        '(docs/aws.md, "Reaching the test listener")'
    ]
    assert report.results[0].url == f"http://[secret]@127.0.0.1:{port}/healthz"
    assert "pw" not in repr(report.to_dict())
    assert waits == []


def test_the_fix_is_the_callers() -> None:
    with silent_port() as port:
        report = run_smoke(
            f"http://127.0.0.1:{port}", load_spec(), timeout=QUICK, unreachable_fix="do X"
        )
    assert report.results[0].problems[0].endswith("; do X")


def test_a_refused_connection_is_still_retried_for_every_check() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening: connects are refused
        spec = load_spec()
        waits: list[float] = []
        report = run_smoke(f"http://127.0.0.1:{port}", spec, sleep=waits.append)
    attempts = spec.retries.attempts
    assert [(r.name, r.attempts) for r in report.results] == [
        ("ready", attempts),
        ("version", attempts),
        ("home", attempts),
    ]
    assert all(r.problems[0].startswith("request failed: ConnectError") for r in report.results)
    assert len(waits) == 3 * (attempts - 1)


def test_the_connect_timeout_is_short_and_reads_keep_their_budget() -> None:
    assert TIMEOUT.connect == CONNECT_TIMEOUT_SECONDS <= 5
    assert TIMEOUT.read == 10.0


def test_only_an_unanswered_connect_counts_as_unreachable() -> None:
    request = httpx.Request("GET", "http://127.0.0.1/")
    assert never_answered(httpx.ConnectTimeout("timed out", request=request))
    assert not never_answered(httpx.ConnectError("refused", request=request))
    assert not never_answered(httpx.ReadTimeout("slow app", request=request))
