"""DORA metrics on a seeded ledger, with every expected value worked out by hand."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from rollout.ledger import SqliteLedger
from rollout.metrics import compute
from shipyard.config.load import StackSources
from tests.conftest import CliResult

NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)


def at(text: str) -> str:
    return f"2026-{text}:00.000+00:00"


def rollout(
    ledger: SqliteLedger,
    env: str,
    rid: str,
    version: str,
    start: str,
    end: str,
    status: str,
    commit_time: str | None = None,
    purpose: str = "deploy",
    failure: str | None = None,
) -> None:
    data = {
        "service": "web",
        "version": version,
        "commit": f"c{version}",
        "author": "ada",
        "commit_time": commit_time and at(commit_time),
        "purpose": purpose,
    }
    ledger.append(env, "release", data, rollout=rid, at=at(start))
    if failure:
        ledger.append(env, "check-failed", {"check": "analysis"}, rollout=rid, at=at(failure))
        ledger.append(env, "rollback-finished", {}, rollout=rid, at=at(end))
    ledger.append(env, "outcome", {"status": status}, rollout=rid, at=at(end))


@pytest.fixture
def ledger(tmp_path: Path) -> SqliteLedger:
    ledger = SqliteLedger(tmp_path / "ledger.db")
    # Outside the 7-day window.
    rollout(ledger, "prod", "r0", "v0", "11-10T10:00", "11-10T10:05", "succeeded", "11-10T09:00")
    # 1: succeeded, lead 24 h, 600 s to deploy.
    rollout(ledger, "prod", "r1", "v1", "11-22T10:00", "11-22T10:10", "succeeded", "11-21T10:10")
    # 2: succeeded (lead 2 h, 300 s), then rolled back by hand 57 min after going live.
    rollout(ledger, "prod", "r2", "v2", "11-24T09:00", "11-24T09:05", "succeeded", "11-24T07:05")
    rollout(
        ledger, "prod", "r2b", "v1", "11-24T10:00", "11-24T10:02", "succeeded", purpose="rollback"
    )
    # Another environment (seeded in time order: verify refuses times that go back).
    rollout(ledger, "staging", "s1", "v4", "11-26T10:00", "11-26T10:01", "succeeded", "11-26T09:00")
    # 3: failed its analysis at 12:03, traffic back at 12:04 (restore 1 min), 240 s.
    rollout(
        ledger,
        "prod",
        "r3",
        "v3",
        "11-26T12:00",
        "11-26T12:04",
        "rolled-back",
        "11-26T11:00",
        failure="11-26T12:03",
    )
    # 4: succeeded, lead 6 h, 360 s.
    rollout(ledger, "prod", "r4", "v4", "11-27T08:00", "11-27T08:06", "succeeded", "11-27T02:06")
    return ledger


def test_prod_metrics_worked_out_by_hand(ledger: SqliteLedger) -> None:
    m = compute(ledger.events(), environments=["prod"], since_days=7, now=NOW)
    assert (m.deploys, m.succeeded, m.failed) == (4, 3, 2)
    assert m.per_day == round(3 / 7, 3)  # 3 successful deploys in 7 days
    assert m.deploy_days_per_week == 3.0  # 11-22, 11-24, 11-27
    assert (m.lead_time_p50_hours, m.lead_time_p90_hours) == (6.0, 24.0)  # of 2, 6, 24
    assert m.change_failure_rate == 0.5  # r2 (rolled back by hand), r3 (by its checks)
    assert m.restore_p50_minutes == 29.0  # median of 57 and 1
    assert m.success_rate == 0.75
    assert m.mean_time_to_deploy_seconds == 375.0  # (600 + 300 + 240 + 360) / 4
    assert m.levels == {
        "deployment_frequency": "high",
        "lead_time": "elite",
        "change_failure_rate": "medium or low",
        "time_to_restore": "elite",
    }
    assert m.year == 2024
    assert m.daily == [
        {"day": "2026-11-22", "deploys": 1, "failures": 0},
        {"day": "2026-11-24", "deploys": 1, "failures": 1},
        {"day": "2026-11-26", "deploys": 1, "failures": 1},
        {"day": "2026-11-27", "deploys": 1, "failures": 0},
    ]


def test_without_a_filter_every_environment_counts(ledger: SqliteLedger) -> None:
    m = compute(ledger.events(), since_days=7, now=NOW)
    assert (m.deploys, m.succeeded) == (5, 4)
    assert m.environments == ["prod", "staging"]
    assert m.lead_time_p50_hours == 2.0  # of 1, 2, 6, 24: nearest rank 2


def test_a_wider_window_takes_the_old_deploy_in(ledger: SqliteLedger) -> None:
    m = compute(ledger.events(), environments=["prod"], since_days=30, now=NOW)
    assert m.deploys == 5


def test_no_deploys_means_no_rates(tmp_path: Path) -> None:
    m = compute([], since_days=7, now=NOW)
    assert (m.deploys, m.change_failure_rate, m.success_rate) == (0, None, None)
    assert m.levels == {"deployment_frequency": "low"}


def test_metrics_command_formats(
    ledger: SqliteLedger,
    cli: Callable[..., CliResult],
    repo_sources: StackSources,
    tmp_path: Path,
) -> None:
    args = ("metrics", "--env", "prod", "--since", "3650", "--ledger", str(ledger.path))
    text = cli(*args, project=repo_sources)
    assert text.code == 0, text
    assert "levels from the DORA 2024 report" in text.out
    assert "change failure rate: 40.0%" in text.out  # 2 of 5 over ten years
    data = json.loads(cli(*args, "--format", "json", project=repo_sources).out)
    assert data["deploys"] == 5 and data["year"] == 2024
    markdown = cli(*args, "--format", "markdown", project=repo_sources).out
    assert "| change failure rate | 40.0% |" in markdown
    page = tmp_path / "metrics.html"
    assert cli(*args, "--format", "html", "-o", str(page), project=repo_sources).code == 0
    html = page.read_text()
    assert '<svg id="chart"' in html and "DORA 2024 report" in html
    unknown = cli("metrics", "--env", "qa", "--ledger", str(ledger.path), project=repo_sources)
    assert unknown.code == 2


def test_metrics_from_pulumi_stack_history(
    tmp_path: Path, cli: Callable[..., CliResult], repo_sources: StackSources
) -> None:
    now = dt.datetime.now(dt.UTC)

    def stamp(hours_ago: float) -> str:
        return (now - dt.timedelta(hours=hours_ago)).strftime("%Y-%m-%dT%H:%M:%S.000Z")

    history = [  # newest first, as pulumi prints it
        {
            "version": 4,
            "kind": "update",
            "result": "succeeded",
            "startTime": stamp(2),
            "endTime": stamp(1.9),
            "environment": {"git.head": "d4", "git.author": "ada", "git.commit.time": stamp(5)},
        },
        {
            "version": 3,
            "kind": "update",
            "result": "failed",
            "startTime": stamp(3),
            "endTime": stamp(2.95),
            "environment": {"git.head": "c3"},
        },
        {"version": 2, "kind": "preview", "result": "succeeded", "startTime": stamp(4)},
        {
            "version": 1,
            "kind": "update",
            "result": "succeeded",
            "startTime": stamp(30),
            "endTime": stamp(29.9),
            "environment": {"git.head": "a1"},
        },
    ]
    path = tmp_path / "prod.json"
    path.write_text(json.dumps(history))
    result = cli(
        "metrics",
        "--from-pulumi-history",
        str(path),
        "--since",
        "7",
        "--format",
        "json",
        project=repo_sources,
    )
    assert result.code == 0, result
    m = json.loads(result.out)
    assert (m["deploys"], m["succeeded"], m["failed"]) == (3, 2, 1)  # the preview is not one
    assert m["environments"] == ["prod"]
    assert m["change_failure_rate"] == round(1 / 3, 4)
    assert m["lead_time_p50_hours"] == pytest.approx(3.1, abs=0.01)  # 5 h - 1.9 h
    assert m["restore_p50_minutes"] == pytest.approx(63.0, abs=0.1)  # failed 2.95 h -> 1.9 h
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    bad = cli("metrics", "--from-pulumi-history", str(broken), project=repo_sources)
    assert bad.code == 2 and "pulumi stack history --json" in bad.err


def test_a_deploy_followed_by_a_fix_counts_as_a_failure(ledger: SqliteLedger) -> None:
    # r1 (11-22 10:10) and r2 (11-24 09:05) are 47 h apart; r2 and r4 (11-27) 71 h.
    within_48 = compute(
        ledger.events(), environments=["prod"], since_days=7, now=NOW, fix_within_hours=48
    )
    assert within_48.failed == 3  # r1 (fixed by r2), r2 (rolled back), r3 (failed)
    assert within_48.change_failure_rate == 0.75
    off = compute(ledger.events(), environments=["prod"], since_days=7, now=NOW)
    assert off.failed == 2
