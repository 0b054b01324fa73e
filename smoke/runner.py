"""Run smoke checks against a URL: each check retried with backoff until it passes or its
attempts run out; every failure says what was expected and what was seen.

One failure is not retried: a connection that is never answered. A refused connection or a 5xx
is an app still starting, worth the retries; silence is a firewall (on AWS, the test listener's
security group drops what it does not admit), and retrying it would only wait out every
attempt of every check. So the connect timeout is short, and the first check that times out
connecting ends the run with a message naming the setting to change.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from shipyard.config.secret_shapes import hide_userinfo
from smoke.spec import Check, SmokeSpec

VERSION = "{version}"
# A load balancer in the same region answers a SYN in milliseconds; 5 s still covers Linux's
# SYN retransmissions at 1 s and 3 s. Reads keep the longer budget a slow app may need.
CONNECT_TIMEOUT_SECONDS = 5.0
TIMEOUT = httpx.Timeout(10.0, connect=CONNECT_TIMEOUT_SECONDS)
UNREACHABLE_FIX = (
    "if this is a shipyard test listener on AWS, add the address this runs from to "
    'network.testAccessCidrs (docs/aws.md, "Reaching the test listener")'
)


@dataclass(frozen=True)
class CheckResult:
    name: str
    url: str
    passed: bool
    attempts: int
    status: int | None
    latency_ms: float | None
    problems: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SmokeReport:
    url: str
    expect_version: str | None
    results: list[CheckResult]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if not r.passed]

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "expect_version": self.expect_version,
            "passed": self.passed,
            "checks": [r.to_dict() for r in self.results],
        }


def run_smoke(
    url: str,
    spec: SmokeSpec,
    *,
    expect_version: str | None = None,
    service: str | None = None,
    client: httpx.Client | None = None,
    sleep: Callable[[float], None] = time.sleep,
    timeout: httpx.Timeout = TIMEOUT,
    unreachable_fix: str = UNREACHABLE_FIX,
) -> SmokeReport:
    """Every check for the service against url; the library function rollouts call. The
    report shows url without its credentials (user:password@). A check that cannot connect at
    all ends the run: its problem says so and how to fix it (`unreachable_fix`), and the
    checks after it are not run."""
    base = url.rstrip("/")
    own = client is None
    http = client or httpx.Client(timeout=timeout, follow_redirects=False)
    results: list[CheckResult] = []
    try:
        for check in spec.checks_for(service):
            try:
                results.append(_run_check(http, base, check, spec, expect_version, sleep))
            except _Unreachable as exc:
                waited = http.timeout.connect
                results.append(
                    _unreachable_result(check, base, exc.attempt, waited, unreachable_fix)
                )
                break
    finally:
        if own:
            http.close()
    return SmokeReport(url=hide_userinfo(base), expect_version=expect_version, results=results)


def _run_check(
    http: httpx.Client,
    base: str,
    check: Check,
    spec: SmokeSpec,
    version: str | None,
    sleep: Callable[[float], None],
) -> CheckResult:
    delay = spec.retries.initial_delay_ms / 1000
    url = base + check.path
    for attempt in range(1, spec.retries.attempts + 1):
        try:
            status, latency, problems, skipped = _attempt(http, url, check, version)
        except httpx.HTTPError as exc:
            if never_answered(exc):
                raise _Unreachable(attempt) from exc
            error = f"{type(exc).__name__}: {exc}".replace(url, hide_userinfo(url))
            status, latency, problems, skipped = None, None, [f"request failed: {error}"], []
        if not problems or attempt == spec.retries.attempts:
            return CheckResult(
                name=check.name,
                url=hide_userinfo(url),
                passed=not problems,
                attempts=attempt,
                status=status,
                latency_ms=latency,
                problems=problems,
                skipped=skipped,
            )
        sleep(delay)
        delay = min(delay * 2, spec.retries.max_delay_ms / 1000)
    raise AssertionError("unreachable: the last attempt returns")


class _Unreachable(Exception):
    """A connection attempt that no one answered: not worth a retry."""

    def __init__(self, attempt: int) -> None:
        super().__init__(attempt)
        self.attempt = attempt


def never_answered(error: httpx.HTTPError) -> bool:
    """A connect that timed out: packets dropped (a firewall), not an app that refuses or fails."""
    return isinstance(error, httpx.ConnectTimeout)


def unreachable_problem(url: str, waited: float | None, fix: str) -> str:
    """The one line a run that cannot connect ends with."""
    where = httpx.URL(url)
    port = where.port or (443 if where.scheme == "https" else 80)
    within = f" within {waited:g} s" if waited is not None else ""
    return (
        f"cannot connect to {where.host}:{port}{within} (no answer: "
        f"packets dropped, as a security group does to an address it does not admit); {fix}"
    )


def _unreachable_result(
    check: Check, base: str, attempt: int, waited: float | None, fix: str
) -> CheckResult:
    url = base + check.path
    return CheckResult(
        name=check.name,
        url=hide_userinfo(url),
        passed=False,
        attempts=attempt,
        status=None,
        latency_ms=None,
        problems=[unreachable_problem(url, waited, fix)],
    )


def _attempt(
    http: httpx.Client, url: str, check: Check, version: str | None
) -> tuple[int | None, float | None, list[str], list[str]]:
    problems: list[str] = []
    skipped: list[str] = []
    started = time.perf_counter()
    response = http.request(check.method, url, headers=check.headers, content=check.body)
    latency = round(1000 * (time.perf_counter() - started), 1)
    if response.status_code != check.status:
        problems.append(f"expected status {check.status}, got {response.status_code}")
    if check.body_contains is not None and check.body_contains not in response.text:
        problems.append(f"body does not contain {check.body_contains!r}: {response.text[:120]!r}")
    body: Any = None
    for key, wanted in check.json_equals.items():
        expected = _fill(wanted, version)
        if expected is _SKIP:
            skipped.append(f"json {key}: no --expect-version")
            continue
        if body is None:
            try:
                body = response.json()
            except ValueError:
                problems.append(f"json {key}: response is not JSON: {response.text[:120]!r}")
                break
        seen = _field(body, key)
        if seen != expected:
            problems.append(f"json {key}: expected {expected!r}, got {seen!r}")
    for name, wanted in check.response_headers.items():
        expected = _fill(wanted, version)
        if expected is _SKIP:
            skipped.append(f"header {name}: no --expect-version")
            continue
        seen = response.headers.get(name)
        if seen != expected:
            problems.append(f"header {name}: expected {expected!r}, got {seen!r}")
    if check.max_latency_ms is not None and latency > check.max_latency_ms:
        problems.append(f"latency {latency:.0f} ms over the {check.max_latency_ms} ms limit")
    return response.status_code, latency, problems, skipped


_SKIP: Any = object()


def _fill(value: Any, version: str | None) -> Any:
    if isinstance(value, str) and VERSION in value:
        return _SKIP if version is None else value.replace(VERSION, version)
    return value


def _field(body: Any, dotted: str) -> Any:
    here = body
    for part in dotted.split("."):
        if isinstance(here, dict) and part in here:
            here = here[part]
        else:
            return None
    return here
