"""What the approval gate is told, from the command line: the deployer (--by), the release.
Bad input is refused with exit 2, one line, nothing written; every refusal here happens
before any platform is touched."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from shipyard.config.load import StackSources
from tests.conftest import CliResult, snapshot


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
