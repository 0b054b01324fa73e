"""The parity HTML report, opened in headless Chromium (Debian's package), shows the score."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from shipyard.config.load import StackSources
from tests.conftest import CliResult

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail(
            "chromium not found: run `make test` as root (it installs it) or "
            "`sudo apt-get install chromium`"
        )
    return found


def open_page(
    chromium: str, page: Path, profile: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def test_html_report_shows_the_score_in_a_browser(
    chromium: str, cli: Callable[..., CliResult], repo_sources: StackSources, tmp_path: Path
) -> None:
    page = tmp_path / "parity.html"
    assert cli("parity", "--format", "html", "-o", str(page), project=repo_sources).code == 0
    dom = open_page(chromium, page, tmp_path / "profile", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert '<span id="score" class="score">100.00%</span>' in dom.stdout
    assert "PASS" in dom.stdout
    assert dom.stdout.count('<tr class="declared') >= 200
    shot = tmp_path / "parity.png"
    screenshot = open_page(
        chromium, page, tmp_path / "profile2", f"--screenshot={shot}", "--window-size=1280,900"
    )
    assert screenshot.returncode == 0, screenshot.stderr[-2000:]
    assert shot.stat().st_size > 20_000
    assert not list(page.parent.glob("*.css")), "the page must be self-contained"


def test_metrics_html_report_shows_its_chart_in_a_browser(
    chromium: str, cli: Callable[..., CliResult], repo_sources: StackSources, tmp_path: Path
) -> None:
    from rollout.ledger import SqliteLedger

    ledger = SqliteLedger(tmp_path / "ledger.db")
    for index, status in enumerate(["succeeded", "rolled-back", "succeeded"]):
        data = {"service": "web", "version": f"v{index}", "commit": "c", "purpose": "deploy"}
        ledger.append("prod", "release", data, rollout=f"r{index}")
        ledger.append("prod", "outcome", {"status": status}, rollout=f"r{index}")
    page = tmp_path / "metrics.html"
    result = cli(
        "metrics",
        "--ledger",
        str(ledger.path),
        "--format",
        "html",
        "-o",
        str(page),
        project=repo_sources,
    )
    assert result.code == 0, result
    dom = open_page(chromium, page, tmp_path / "profile", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert '<svg id="chart"' in dom.stdout
    assert dom.stdout.count('class="deploy"') == 1  # one day, one bar pair
    assert '<td id="success_rate">66.7%</td>' in dom.stdout
