"""An attacker's ways around the gate from the command line: one reviewer under two spellings,
names that forge output, releases `deploy` would refuse, out-of-range parity, empty flags.
Each is refused with exit 2 and one line, nothing written, or counted as one person."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from rollout.gates import evaluate_gate, parse_release
from rollout.ledger import SqliteLedger
from shipyard.config.load import StackSources, load_stack
from tests.conftest import CliResult, snapshot

RELEASE = "web@v50#abc1234"
DEPLOY_PROD = ("deploy", "prod", "--version", "v50", "--service", "web", "--commit", "abc1234")


@pytest.fixture
def written(project: StackSources) -> StackSources:
    """ada wrote web@v50#abc1234 (it went into dev with --author ada)."""
    ledger = SqliteLedger(project.root / ".shipyard" / "ledger.db")
    data = {"service": "web", "version": "v50", "commit": "abc1234", "author": "ada"}
    ledger.append("dev", "release", data, rollout="r1")
    return project


def one_line_refusal(result: CliResult, *words: str) -> None:
    assert result.code == 2, result
    assert result.err.startswith("shipyard: ") and result.err.count("\n") == 1, result
    for word in words:
        assert word in result.err, result


@pytest.mark.parametrize("again", ["B o b", "ＢＯＢ", "b\u200bob", "\u200dBob "])
def test_one_reviewer_under_two_spellings_is_one_approval(
    written: StackSources, cli: Callable[..., CliResult], again: str
) -> None:
    for by in ("bob", again):
        assert cli("approve", "prod", "--release", RELEASE, "--by", by, project=written).code == 0
    # Judged from the ledger, as `deploy prod` would, without deploying anything.
    ledger = SqliteLedger(written.root / ".shipyard" / "ledger.db")
    policy = load_stack(written, "prod").config.deploy.approvals
    result = evaluate_gate(ledger, "prod", parse_release(RELEASE), policy, "ada", "dave")
    assert not result.satisfied
    assert "has 1 (bob), missing 1" in result.explain() and "already approved" in result.explain()


@pytest.mark.parametrize("author", ["A D A", "ａｄａ", "a\u200bda", "ADA\ufeff"])
def test_the_author_under_another_spelling_cannot_approve(
    written: StackSources, cli: Callable[..., CliResult], author: str
) -> None:
    before = snapshot(written.root)
    result = cli("approve", "prod", "--release", RELEASE, "--by", author, project=written)
    assert result.code == 1, result
    assert "cannot approve it (separation of duties)" in result.err
    assert snapshot(written.root) == before


NAMES = [
    ("--by", "bob\nada", "control character '\\n'"),
    ("--by", "bob\rada", "control character '\\r'"),
    ("--by", "bob\u2028ada", "control character '\\u2028'"),
    ("--by", "b" * 100_000, "(100000 characters) is too long: a name is at most 100"),
    ("--author", "ada\nbob", "control character '\\n'"),
    ("--author", "a" * 101, "(101 characters) is too long"),
]


@pytest.mark.parametrize(
    ("command", "flag", "name", "said"),
    [("deploy", *case) for case in NAMES] + [("approve", *c) for c in NAMES if c[0] == "--by"],
)
def test_a_name_with_control_characters_or_too_long_is_refused(
    written: StackSources, cli: Callable[..., CliResult], command: str, flag: str, name: str,
    said: str,
) -> None:  # fmt: skip
    argv = (
        ("approve", "prod", "--release", RELEASE)
        if command == "approve"
        else (*DEPLOY_PROD, "--by", "dave", "--author", "ada")
    )
    before = snapshot(written.root)
    one_line_refusal(cli(*argv, flag, name, project=written), flag, said)
    assert snapshot(written.root) == before


def test_an_actor_from_the_environment_with_a_newline_is_refused(
    written: StackSources, cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHIPYARD_ACTOR", "bob\nada approved web@v50#abc1234 for prod")
    before = snapshot(written.root)
    result = cli("approve", "prod", "--release", RELEASE, project=written)
    one_line_refusal(result, "$SHIPYARD_ACTOR", "control character")
    # deploy and rollback, which fall back to "unknown" when nobody is named, refuse it too.
    for argv in (("deploy", "dev", "--version", "v2", "--service", "web"),
                 ("rollback", "dev", "--service", "web", "--to", "v2")):  # fmt: skip
        one_line_refusal(cli(*argv, project=written), "$SHIPYARD_ACTOR", "control character")
    assert snapshot(written.root) == before


@pytest.mark.parametrize(
    ("release", "said"),
    [
        ("nosuch@v2#abc1234", "no service 'nosuch' in prod (services: "),
        ("web@v2#" + "a" * 5000, "(5000 characters) is not a commit"),
        ("web@v2#" + "a" * 65, "up to 64 characters"),
        ("web@v2", "write it as service@version#commit"),
        ("web@v2#", "is not a commit"),
        ("web@v2#-x", "is not a commit"),
    ],
)
@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_a_decision_on_a_release_deploy_would_refuse_is_refused(
    written: StackSources, cli: Callable[..., CliResult], release: str, said: str, decision: str
) -> None:
    before = snapshot(written.root)
    result = cli(decision, "prod", "--release", release, "--by", "bob", project=written)
    one_line_refusal(result, said)
    assert snapshot(written.root) == before


@pytest.mark.parametrize(
    ("commit", "said"),
    [("", "--commit '' is not a commit"), ("a" * 65, "up to 64 characters"), ("a b", "a b")],
)
def test_deploy_refuses_the_commits_approve_refuses(
    written: StackSources, cli: Callable[..., CliResult], commit: str, said: str
) -> None:
    before = snapshot(written.root)
    argv = ("deploy", "staging", "--version", "v2", "--service", "web", "--by", "dave")
    result = cli(*argv, "--author", "ada", "--commit", commit, project=written)
    one_line_refusal(result, said, "is not a commit")
    assert snapshot(written.root) == before
    approved = cli("approve", "staging", "--release", f"web@v2#{commit}", project=written)
    one_line_refusal(approved)  # the same validator: the same refusal


@pytest.mark.parametrize("flag", ["--to", "--if-live"])
def test_rollback_names_the_flag_whose_version_is_empty(
    written: StackSources, cli: Callable[..., CliResult], flag: str
) -> None:
    before = snapshot(written.root)
    result = cli("rollback", "staging", "--service", "web", flag, "", project=written)
    one_line_refusal(result, f"{flag} '' is not an image tag")
    assert "--version" not in result.err
    assert snapshot(written.root) == before


@pytest.mark.parametrize("parity", ["nan", "150", "-5", "100.1", "inf"])
def test_promote_refuses_a_parity_outside_0_to_100(
    written: StackSources, cli: Callable[..., CliResult], parity: str
) -> None:
    before = snapshot(written.root)
    result = cli("promote", "dev", "staging", "--service", "web", "--min-parity", parity,
                 project=written)  # fmt: skip
    assert result.code == 2, result
    assert "--min-parity" in result.err and "0<=x<=100" in result.err
    assert snapshot(written.root) == before


def test_promote_with_an_unknown_author_says_how_to_name_one_for_promote(
    project: StackSources, cli: Callable[..., CliResult]
) -> None:
    ledger = SqliteLedger(project.root / ".shipyard" / "ledger.db")
    data = {"service": "web", "version": "v6", "commit": "c6", "author": "unknown"}
    ledger.append("dev", "release", data, rollout="r1")
    ledger.append("dev", "outcome", {"status": "succeeded"}, rollout="r1")
    before = snapshot(project.root)
    result = cli("promote", "dev", "staging", "--service", "web", "--by", "dave",
                 project=project)  # fmt: skip
    one_line_refusal(result, "web@v6#c6 has no known author", "redeploy it to dev with --author")
    assert "deploy it with --author" not in result.err
    assert snapshot(project.root) == before
    preview = cli("promote", "dev", "staging", "--service", "web", "--by", "dave", "--dry-run",
                  project=project)  # fmt: skip
    assert preview.code == 0, preview
    assert "redeploy it to dev with --author" in preview.out
