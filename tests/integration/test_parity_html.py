"""The parity HTML report, opened in headless Chromium (Debian's package): it leads with the
verdict, and a value holding a script or an event handler is shown, never run."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from parity.formats import render_html
from shipyard.config.load import StackSources
from tests.conftest import CliResult
from tests.unit.parity.html_page import Page
from tests.unit.parity.report_factory import IMG, SCRIPT, hostile_report

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


def test_a_hostile_value_runs_nothing_and_the_verdict_comes_first(
    chromium: str, tmp_path: Path
) -> None:
    # The check can see a script run: unescaped, the same markup retitles the page and
    # injects an element.
    control = tmp_path / "control.html"
    control.write_text(f"<title>safe</title><body><p>{SCRIPT}{IMG}</p></body>", encoding="utf-8")
    ran = open_page(chromium, control, tmp_path / "profile0", "--dump-dom")
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert "<title>pwned</title>" in ran.stdout and '<b id="pwned">' in ran.stdout

    page = tmp_path / "parity.html"
    page.write_text(render_html(hostile_report()), encoding="utf-8")
    dom = open_page(chromium, page, tmp_path / "profile", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    seen = Page(dom.stdout)
    assert seen.blocks[0].text == "shipyard parity FAIL: parity 98.00% (minimum 90%)"
    assert not [attrs for _, attrs in seen.tags if attrs.get("id") == "pwned"]
    assert not {"script", "img"} & {tag for tag, _ in seen.tags}
    assert SCRIPT in seen.text and "onerror=" in seen.text
    # What a person sees first: the verdict with the score, then what needs attention.
    first, *rest = seen.body_blocks()
    assert (first.tag, first.attrs["id"]) == ("h1", "verdict")
    assert " ".join(first.text.split()) == "FAIL: parity 98.00% (minimum 90%)"
    assert next(b for b in rest if b.tag == "table").attrs["id"] == "attention"


def test_the_project_report_opens_with_its_verdict_and_score(
    chromium: str, cli: Callable[..., CliResult], repo_sources: StackSources, tmp_path: Path
) -> None:
    """The committed stacks through the real engine. The score is the engine's to test; this
    checks only that the page opens, self-contained, with its verdict and score."""
    page = tmp_path / "parity.html"
    assert cli("parity", "--format", "html", "-o", str(page), project=repo_sources).code in (0, 1)
    dom = open_page(chromium, page, tmp_path / "profile", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    ids = [attrs.get("id") for _, attrs in Page(dom.stdout).tags]
    assert "verdict" in ids and "score" in ids
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
