"""Smoke specs: the shipped default is valid; a bad spec is exit 2 naming file and path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from smoke import load_spec
from tests.conftest import CliResult


def test_the_default_spec_checks_readiness_version_and_home() -> None:
    spec = load_spec()
    assert [c.name for c in spec.checks] == ["ready", "version", "home"]
    assert spec.checks[1].response_headers == {"X-App-Version": "{version}"}
    assert spec.retries.attempts == 8


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("checks:\n  - name: a\n    path: healthz\n", "checks[0].path: must start with '/'"),
        (
            "checks:\n  - name: a\n    status: 99\n",
            "checks[0].status: must be greater than or equal to 100",
        ),
        (
            "checks:\n  - name: a\n    maxLatncyMs: 5\n",
            "checks[0].maxLatncyMs: unknown key 'maxLatncyMs'; did you mean 'maxLatencyMs'?",
        ),
        ("checks:\n  - name: a\n  - name: a\n", "check name 'a' appears twice"),
        (
            "retries: {attempts: 0}\nchecks: []\n",
            "retries.attempts: must be greater than or equal to 1",
        ),
        ("checks:\n  - name: a\n    method: FETCH\n", "checks[0].method: must be 'GET'"),
        ("checks: [\n", "line"),
        ("- just a list\n", "must be a mapping with `checks:`"),
    ],
)
def test_a_bad_spec_exits_2_with_file_and_path(
    cli: Callable[..., CliResult], tmp_path: Path, content: str, message: str
) -> None:
    spec = tmp_path / "smoke.yaml"
    spec.write_text(content)
    result = cli("smoke", "http://127.0.0.1:9", "--spec", str(spec))
    assert result.code == 2
    assert result.err.startswith(f"shipyard: {spec}: "), result.err
    assert message in result.err
    assert len(result.err.splitlines()) == 1


def test_a_missing_spec_or_a_bad_url_is_exit_2(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    missing = cli("smoke", "http://127.0.0.1:9", "--spec", str(tmp_path / "nope.yaml"))
    assert missing.code == 2
    assert "cannot read the smoke spec" in missing.err
    bad_url = cli("smoke", "127.0.0.1:9")
    assert bad_url.code == 2
    assert "URL must start with http:// or https://" in bad_url.err
