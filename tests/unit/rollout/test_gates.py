"""Every way around an approval gate is refused, with a message naming the rule."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from rollout.gates import ReleaseId, evaluate_gate, parse_release, record_decision
from rollout.ledger import SqliteLedger
from rollout.people import identity, normalise_person
from shipyard.config.load import StackSources
from shipyard.config.model import Approvals
from shipyard.errors import CheckFailed, UsageError
from tests.conftest import CliResult, snapshot

RELEASE = ReleaseId("web", "v2", "3f9c2e1")
PROD = Approvals(required=2, max_age_hours=12)


@pytest.fixture
def ledger(tmp_path: Path) -> SqliteLedger:
    ledger = SqliteLedger(tmp_path / "ledger.db")
    ledger.append(
        "dev", "release", {**RELEASE.to_dict(), "author": "ada@example.com"}, rollout="r1"
    )
    return ledger


def gate(ledger: SqliteLedger, deployer: str = "dave@example.com", **kw: object):  # type: ignore[no-untyped-def]
    return evaluate_gate(ledger, "prod", RELEASE, PROD, "ada@example.com", deployer, **kw)  # type: ignore[arg-type]


def approve(ledger: SqliteLedger, who: str, release: ReleaseId = RELEASE) -> None:
    record_decision(ledger, "prod", release, who, True, None)


def test_two_distinct_reviewers_satisfy_prod(ledger: SqliteLedger) -> None:
    approve(ledger, "bob@example.com")
    assert not gate(ledger).satisfied
    approve(ledger, "carol@example.com")
    result = gate(ledger)
    assert result.satisfied
    assert result.counted == ["bob@example.com", "carol@example.com"]


def test_the_author_cannot_approve_their_own_release(ledger: SqliteLedger) -> None:
    with pytest.raises(
        CheckFailed, match="ada@example.com wrote web@v2#3f9c2e1 and cannot approve it"
    ):
        approve(ledger, "ada@example.com")
    # Recorded anyway (say, before the release reached the ledger): it still does not count.
    ledger.append("prod", "approval", {**RELEASE.to_dict(), "reviewer": " ADA@example.com"})
    approve(ledger, "bob@example.com")
    result = gate(ledger)
    assert not result.satisfied
    assert "not counted:  ADA@example.com is the author" in result.explain()


def test_the_same_reviewer_twice_counts_once_whatever_the_case_or_spacing(
    ledger: SqliteLedger,
) -> None:
    approve(ledger, "Carol@Example.com")
    approve(ledger, "  carol@example.com ")
    result = gate(ledger)
    assert result.counted == ["Carol@Example.com"]
    assert result.explain().startswith(
        "web@v2#3f9c2e1 needs 2 approval(s) in prod from distinct reviewers who are neither "
        "its author nor its deployer: has 1 (Carol@Example.com), missing 1"
    )
    assert "not counted: carol@example.com already approved" in result.explain()
    assert normalise_person("  Carol@Example.com ") == normalise_person("carol@example.com")


@pytest.mark.parametrize(
    "again",
    ["B o b", "ＢＯＢ", "b\u200bob", "\u2060bob\ufeff", "BOB\u00a0", "b\u3000ob", "ｂｏｂ"],
)
def test_one_reviewer_under_another_spelling_counts_once(ledger: SqliteLedger, again: str) -> None:
    """Blanks anywhere, fullwidth forms and invisible format characters make no new person."""
    approve(ledger, "bob")
    approve(ledger, again)
    result = gate(ledger)
    assert not result.satisfied
    assert result.counted == ["bob"]
    assert f"not counted: {' '.join(again.split())} already approved" in result.explain()
    assert normalise_person(again) == normalise_person("bob")


@pytest.mark.parametrize(
    "author",
    ["A D A@example.com", "ａｄａ@example.com", "a\u200bda@example.com", "ＡＤＡ＠example.com"],
)
def test_the_author_under_another_spelling_is_still_the_author(
    ledger: SqliteLedger, author: str
) -> None:
    with pytest.raises(CheckFailed, match="cannot approve it"):
        approve(ledger, author)
    # Recorded anyway, it does not count; nor does the deployer under another spelling.
    ledger.append("prod", "approval", {**RELEASE.to_dict(), "reviewer": author})
    ledger.append("prod", "approval", {**RELEASE.to_dict(), "reviewer": "ｄａｖｅ@example.com"})
    result = gate(ledger)
    assert result.counted == []
    assert f"not counted: {author} is the author" in result.explain()
    assert "not counted: ｄａｖｅ@example.com is deploying it" in result.explain()
    assert gate(ledger, deployer="D\u200bave@example.com").counted == []


def test_an_approval_of_another_release_does_not_count(ledger: SqliteLedger) -> None:
    approve(ledger, "bob@example.com", ReleaseId("web", "v2", "other"))
    approve(ledger, "carol@example.com", ReleaseId("web", "v3", "3f9c2e1"))
    approve(ledger, "erin@example.com", ReleaseId("api", "v2", "3f9c2e1"))
    assert gate(ledger).counted == []


def test_an_expired_approval_does_not_count(ledger: SqliteLedger) -> None:
    approve(ledger, "bob@example.com")
    approve(ledger, "carol@example.com")
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=13)
    result = gate(ledger, now=later)
    assert result.counted == []
    assert "older than 12 h" in result.explain()


def test_the_deployer_cannot_approve_what_they_deploy(ledger: SqliteLedger) -> None:
    approve(ledger, "bob@example.com")
    approve(ledger, "carol@example.com")
    result = gate(ledger, deployer="Carol@example.com")
    assert result.counted == ["bob@example.com"]
    assert "carol@example.com is deploying it" in result.explain()


def test_a_rejection_blocks_the_release_whatever_follows(ledger: SqliteLedger) -> None:
    record_decision(ledger, "prod", RELEASE, "frank@example.com", False, "breaks billing")
    approve(ledger, "bob@example.com")
    approve(ledger, "carol@example.com")
    result = gate(ledger)
    assert not result.satisfied
    assert result.explain().startswith(
        "web@v2#3f9c2e1 cannot enter prod: rejected by frank@example.com at"
    )
    assert result.explain().endswith(": breaks billing")


def test_a_tampered_ledger_decides_nothing(ledger: SqliteLedger) -> None:
    approve(ledger, "bob@example.com")
    approve(ledger, "mallory@example.com")
    with sqlite3.connect(ledger.path) as db:
        db.execute("UPDATE events SET data = replace(data, 'mallory', 'carol') WHERE seq = 3")
    result = gate(ledger)
    assert not result.satisfied
    assert "fails verification (event 3 (approval): content does not match" in (result.explain())


def test_release_and_identity_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_release("web@v2#3f9c2e1") == RELEASE
    assert parse_release("web@v2#unknown").commit == "unknown"  # a deploy without --commit
    for text in ("web v2", "web@v2", "web@v2#", "web@v2#a\nb", "web@v2\n#abc"):
        with pytest.raises(UsageError, match="service@version#commit|is not a commit|image tag"):
            parse_release(text)
    monkeypatch.setenv("SHIPYARD_ACTOR", "ci-bot")
    monkeypatch.setenv("GITHUB_ACTOR", "octocat")
    assert identity("  ada ") == "ada"
    assert identity(None) == "ci-bot"
    monkeypatch.delenv("SHIPYARD_ACTOR")
    assert identity(None) == "octocat"
    monkeypatch.setenv("SHIPYARD_ACTOR", "Unknown")  # the ledger's word for nobody: not a name
    assert identity(None) == "octocat"


def test_deploying_into_a_gated_environment_lists_what_is_missing_and_changes_nothing(
    project: StackSources, cli: Callable[..., CliResult]
) -> None:
    ledger = SqliteLedger(project.root / ".shipyard" / "ledger.db")
    ledger.append(
        "staging", "approval", {**ReleaseId("web", "v2", "3f9c2e1").to_dict(), "reviewer": "bob"}
    )
    before = snapshot(project.root)
    result = cli(
        "deploy",
        "prod",
        "--version",
        "v2",
        "--service",
        "web",
        "--commit",
        "3f9c2e1",
        "--author",
        "ada",
        "--by",
        "dave",
        project=project,
    )
    assert result.code == 1
    assert result.err == (
        "shipyard: web@v2#3f9c2e1 needs 2 approval(s) in prod from distinct reviewers who are "
        "neither its author nor its deployer: has 0 (none), missing 2\n"
    )
    assert snapshot(project.root) == before  # nothing started, nothing written
    approved = cli("approve", "prod", "--release", "web@v2#3f9c2e1", "--by", "bob", project=project)
    assert approved.code == 0
    assert approved.out.startswith("bob approved web@v2#3f9c2e1 for prod (ledger event")
    still = cli(
        "deploy",
        "prod",
        "--version",
        "v2",
        "--service",
        "web",
        "--commit",
        "3f9c2e1",
        "--author",
        "ada",
        "--by",
        "dave",
        project=project,
    )
    assert still.code == 1
    assert "has 1 (bob), missing 1" in still.err
