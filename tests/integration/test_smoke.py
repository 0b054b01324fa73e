"""Smoke checks against the real sample service: pass when healthy, fail for each fault knob
with the right message."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from rollout.platforms.local.processes import free_port
from smoke import load_spec, run_smoke
from smoke.spec import SmokeSpec
from tests.conftest import CliResult
from tests.integration.conftest import Start


def fast(attempts: int = 2) -> SmokeSpec:
    spec = load_spec()
    return spec.model_copy(
        update={
            "retries": spec.retries.model_copy(
                update={"attempts": attempts, "initial_delay_ms": 10}
            )
        }
    )


def problems(report: object) -> dict[str, list[str]]:
    return {r.name: r.problems for r in report.results if r.problems}  # type: ignore[attr-defined]


def test_a_healthy_sample_passes_every_check(sample: Start) -> None:
    report = run_smoke(sample(version="v4"), fast(), expect_version="v4")
    assert report.passed, problems(report)
    assert [r.name for r in report.results] == ["ready", "version", "home"]
    assert all(r.attempts == 1 and r.status == 200 for r in report.results)


def test_failing_health_check(sample: Start) -> None:
    report = run_smoke(sample(APP_FAIL_HEALTH="1"), fast())
    assert problems(report) == {"ready": ["expected status 200, got 503"]}


def test_5xx_rate(sample: Start) -> None:
    report = run_smoke(sample(APP_ERROR_RATE="1"), fast())
    assert problems(report) == {
        "version": ["expected status 200, got 500"],
        "home": [
            "expected status 200, got 500",
            'body does not contain \'hello\': \'{"error": "injected failure", "version": "v1"}\'',
        ],
    }


def test_added_latency(sample: Start) -> None:
    report = run_smoke(sample(APP_LATENCY_MS="1200"), fast(attempts=1))
    found = problems(report)
    assert set(found) == {"ready", "version", "home"}
    assert all(
        p[0].startswith("latency 1") and p[0].endswith("over the 1000 ms limit")
        for p in found.values()
    )


def test_crash_after_n_seconds(sample: Start) -> None:
    url = sample(APP_CRASH_AFTER="0.3")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/healthz", timeout=0.2)
            time.sleep(0.05)
        except httpx.HTTPError:
            break
    report = run_smoke(url, fast())
    assert not report.passed
    assert all(r.problems[0].startswith("request failed: ConnectError") for r in report.results)


def test_slow_start_fails_without_enough_retries_and_passes_with_them(sample: Start) -> None:
    url = sample(APP_SLOW_START="1.5", wait=False)
    impatient = run_smoke(url, fast(attempts=1))
    assert impatient.results[0].problems[0].startswith("request failed: ConnectError")
    patient = run_smoke(url, load_spec())  # the default spec backs off up to ~5 s
    assert patient.passed, problems(patient)
    assert patient.results[0].attempts > 1


def test_wrong_version_names_what_was_seen(sample: Start) -> None:
    report = run_smoke(sample(version="v1"), fast(), expect_version="v2")
    assert problems(report) == {
        "version": [
            "json version: expected 'v2', got 'v1'",
            "header X-App-Version: expected 'v2', got 'v1'",
        ]
    }


def test_smoke_command_exit_codes_and_formats(
    sample: Start, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    url = sample(version="v3")
    ok = cli("smoke", url, "--expect-version", "v3", "--format", "json")
    assert ok.code == 0, ok
    assert json.loads(ok.out)["passed"] is True
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "retries: {attempts: 1}\nchecks:\n  - name: teapot\n    path: /brew\n    status: 418\n"
    )
    bad = cli("smoke", url, "--spec", str(spec), "--format", "junit")
    assert bad.code == 1
    assert 'failures="1"' in bad.out
    assert "expected status 418, got 404" in bad.out
    assert bad.err == f"shipyard: smoke failed at {url}: teapot\n"


def test_credentials_in_the_url_are_never_printed(
    sample: Start, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    url = sample(version="v3").replace("http://", "http://u:hunter2@")
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "retries: {attempts: 1}\nchecks:\n  - name: teapot\n    path: /brew\n    status: 418\n"
    )
    refused = f"http://u:hunter2@127.0.0.1:{free_port()}"
    for target in (url, refused):
        for output_format in ("text", "json", "junit"):
            result = cli("smoke", target, "--spec", str(spec), "--format", output_format)
            assert result.code == 1, result
            assert "hunter2" not in result.out + result.err, (target, output_format)
            assert "http://[secret]@127.0.0.1:" in result.out, result.out
    bad_scheme = cli("smoke", "ftp://u:hunter2@127.0.0.1/")
    assert bad_scheme.code == 2
    assert bad_scheme.err == (
        "shipyard: URL must start with http:// or https:// (got 'ftp://[secret]@127.0.0.1/')\n"
    )
