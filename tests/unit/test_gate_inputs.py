"""What the approval gate is told, from the command line: the author (given, or from git),
the deployer (--by), the release. Bad or missing input is refused with exit 2, one line,
nothing written; every refusal here happens before any platform is touched."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from rollout import people
from rollout.ledger import SqliteLedger
from shipyard.config.load import StackSources
from tests.conftest import CliResult, snapshot

DEPLOY_PROD = ("deploy", "prod", "--version", "v2", "--service", "web", "--by", "dave")


def git(root: Path, *args: str, author: str = "ada@example.com") -> str:
    settings = {"user.name": author.split("@")[0], "user.email": author, "commit.gpgsign": "false"}
    config = [word for key, value in settings.items() for word in ("-c", f"{key}={value}")]
    done = subprocess.run(
        ["git", *config, "-C", str(root), *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture
def in_git(project: StackSources) -> StackSources:
    """The project as a git work tree: ada wrote the first commit, erin the one at HEAD."""
    git(project.root, "init", "-q")
    git(project.root, "add", "-A")
    git(project.root, "commit", "-q", "-m", "ada's change")
    git(project.root, "commit", "-q", "--allow-empty", "-m", "erin's", author="erin@example.com")
    return project


def approvals(project: StackSources, release: str, *reviewers: str) -> SqliteLedger:
    """Approvals recorded as they would be before the release ever reached the ledger."""
    ledger = SqliteLedger(project.root / ".shipyard" / "ledger.db")
    service, rest = release.split("@")
    version, commit = rest.split("#")
    for reviewer in reviewers:
        data = {"service": service, "version": version, "commit": commit, "reviewer": reviewer}
        ledger.append("prod", "approval", data, actor=reviewer)
    return ledger


def test_git_names_the_author_of_a_commit_it_knows(in_git: StackSources, tmp_path: Path) -> None:
    first = git(in_git.root, "rev-list", "--max-parents=0", "HEAD")
    assert people.commit_author(in_git.root) == "erin@example.com"  # HEAD
    assert people.commit_author(in_git.root, first) == "ada@example.com"
    assert people.commit_author(in_git.root, "0" * 40) is None
    assert people.commit_author(in_git.root, "--all") is None  # a revision, never an option
    assert people.commit_author(in_git.root, "Pulumi.yaml") is None  # never a path
    outside = tmp_path / "not-a-repo"
    outside.mkdir()
    assert people.commit_author(outside) is None


def test_the_authors_own_approval_never_counts_when_git_named_the_author(
    in_git: StackSources, cli: Callable[..., CliResult]
) -> None:
    approvals(in_git, "web@v2#unknown", "erin@example.com")
    result = cli(*DEPLOY_PROD, project=in_git)  # no --author: HEAD's, erin
    assert result.code == 1, result
    assert "has 0 (none), missing 2; not counted: erin@example.com is the author" in result.err
    first = git(in_git.root, "rev-list", "--max-parents=0", "HEAD")
    approvals(in_git, f"web@v2#{first}", "ada@example.com", "bob@example.com")
    of_commit = cli(*DEPLOY_PROD, "--commit", first, project=in_git)  # --commit's: ada
    assert of_commit.code == 1, of_commit
    assert "has 1 (bob@example.com), missing 1" in of_commit.err
    assert "not counted: ada@example.com is the author" in of_commit.err


@pytest.mark.parametrize(
    "author", [(), ("--author", ""), ("--author", "  "), ("--author", "unknown")]
)
def test_a_gated_deploy_with_no_author_is_refused_naming_author(
    project: StackSources, cli: Callable[..., CliResult], author: tuple[str, ...]
) -> None:
    approvals(project, "web@v2#unknown", "bob")  # it would count for a known author
    before = snapshot(project.root)  # not a git work tree: git names nobody
    result = cli(*DEPLOY_PROD, *author, project=project)
    assert result.code == 2, result
    assert result.err.startswith("shipyard: web@v2#unknown has no known author, and prod's ")
    assert "deploy it with --author WHO" in result.err and result.err.count("\n") == 1
    assert snapshot(project.root) == before


def test_a_rollback_to_a_version_of_unknown_authorship_is_refused(
    project: StackSources, cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHIPYARD_ACTOR", "dave")
    ledger = approvals(project, "web@v9#unknown", "ada")
    before = snapshot(project.root)
    rollback = ("rollback", "prod", "--service", "web", "--to", "v9")
    result = cli(*rollback, project=project)
    assert (result.code, result.err.count("\n")) == (2, 1), result
    assert "web@v9#unknown has no known author" in result.err and "--author" in result.err
    assert snapshot(project.root) == before
    # Once the ledger knows who wrote v9 (deployed to dev with --author), the gate judges it,
    # and the author's approval is not counted although the rollback named nobody.
    ledger.append("dev", "release", {"service": "web", "version": "v9", "commit": "c9",
                                     "author": "ada"}, rollout="r1")  # fmt: skip
    approvals(project, "web@v9#unknown", "bob")
    judged = cli(*rollback, project=project)
    assert judged.code == 1, judged
    assert "has 1 (bob), missing 1; not counted: ada is the author" in judged.err


@pytest.mark.parametrize("by", ["", "   "])
@pytest.mark.parametrize(
    "command",
    [
        ("approve", "prod", "--release", "web@v2#3f9c2e1"),
        ("reject", "prod", "--release", "web@v2#3f9c2e1"),
        ("deploy", "prod", "--version", "v2", "--service", "web", "--author", "ada"),
        ("deploy", "dev", "--resume"),
        ("promote", "dev", "staging", "--service", "web"),
        ("promote", "dev", "staging", "--service", "web", "--dry-run"),
    ],
    ids=lambda c: " ".join(c[:2]) if isinstance(c, tuple) else repr(c),
)
def test_an_empty_by_is_refused_never_replaced_by_the_default(
    project: StackSources,
    cli: Callable[..., CliResult],
    monkeypatch: pytest.MonkeyPatch,
    command: tuple[str, ...],
    by: str,
) -> None:
    monkeypatch.setenv("SHIPYARD_ACTOR", "ci-bot")  # what an empty --by used to become
    before = snapshot(project.root)
    result = cli(*command, "--by", by, project=project)
    assert result.code == 2, result
    assert result.err == (
        f"shipyard: --by {by!r} names nobody: give a name, or drop --by to be $SHIPYARD_ACTOR, "
        "$GITHUB_ACTOR or git config user.email\n"
    )
    assert snapshot(project.root) == before


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_a_decision_on_a_version_deploy_would_refuse_is_refused(
    project: StackSources, cli: Callable[..., CliResult], decision: str
) -> None:
    before = snapshot(project.root)
    too_long = "v" * 129
    result = cli(decision, "prod", "--release", f"web@{too_long}#c1", "--by", "bob",
                 project=project)  # fmt: skip
    assert result.code == 2, result
    assert result.err == (
        f"shipyard: --release: the version {too_long[:40]!r}... (129 characters) is not an "
        "image tag: letters, digits, '.', '_' or '-', up to 128 characters\n"
    )
    assert snapshot(project.root) == before
    # What deploy takes, approve takes: 128 characters is an image tag.
    fits = cli(decision, "prod", "--release", f"web@{'v' * 128}#c1", "--by", "bob",
               project=project)  # fmt: skip
    assert fits.code == 0, fits
    deployed = cli("deploy", "prod", "--version", too_long, "--service", "web", project=project)
    assert deployed.code == 2 and "is not an image tag" in deployed.err
