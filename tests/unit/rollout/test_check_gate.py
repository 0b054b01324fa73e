"""check_gate: which deploys into a gated environment need approvals, and who may give them.

The rollback exemption is narrow: only a *rollback* to a version that was live here before
(by the ledger, never by the stack config's `versions`, which anyone can edit) skips the
gate. An ordinary deploy of such a version, and a rollback to a version that never was live,
are judged like any release, and the gate refuses to judge one whose author or
deployer nobody can name.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rollout.deploy import DeployOptions, check_gate
from rollout.ledger import SqliteLedger
from shipyard.config.load import StackSources, load_stack
from shipyard.config.model import StackConfig
from shipyard.errors import CheckFailed, UsageError


@pytest.fixture
def prod(project: StackSources) -> StackConfig:
    config = load_stack(project, "prod").config
    assert config.deploy.approvals.required == 2
    assert config.service("web").versions.blue == "v1"  # declared, never rolled out
    return config


@pytest.fixture
def ledger(tmp_path: Path) -> SqliteLedger:
    """v7 of web went live in prod (a succeeded rollout); v9 was only ever deployed to dev."""
    ledger = SqliteLedger(tmp_path / "ledger.db")
    for env, version, rollout in (("prod", "v7", "r1"), ("dev", "v9", "r2")):
        ledger.append(
            env,
            "release",
            {"service": "web", "version": version, "commit": "unknown", "author": "ada"},
            rollout=rollout,
        )
        ledger.append(env, "outcome", {"status": "succeeded"}, rollout=rollout)
    return ledger


def gate(ledger: SqliteLedger, config: StackConfig, version: str, **options: str) -> None:
    settings = {"author": "ada", "actor": "dave", **options}
    check_gate(ledger, "prod", config, "web", DeployOptions("prod", version, "web", **settings))


def approve(ledger: SqliteLedger, version: str, *reviewers: str) -> None:
    for reviewer in reviewers:
        ledger.append(
            "prod",
            "approval",
            {"service": "web", "version": version, "commit": "unknown", "reviewer": reviewer},
        )


def test_an_ordinary_deploy_of_a_version_that_was_live_still_needs_approvals(
    ledger: SqliteLedger, prod: StackConfig
) -> None:
    with pytest.raises(CheckFailed, match=r"web@v7#unknown needs 2 approval\(s\) in prod"):
        gate(ledger, prod, "v7")
    assert [e.kind for e in ledger.events("prod")][-1] != "gate-skipped"
    gate(ledger, prod, "v7", purpose="rollback")  # the same version, rolled back to
    skipped = ledger.events("prod")[-1]
    assert (skipped.kind, skipped.data["version"]) == ("gate-skipped", "v7")


@pytest.mark.parametrize("declared", ["blue", "green"])
def test_a_version_only_the_stack_config_names_was_never_live(
    ledger: SqliteLedger, prod: StackConfig, declared: str
) -> None:
    """`versions: {green: evil9}` added to stacks/ENV.yaml does not make evil9 "live before":
    a rollback to it goes through the gate."""
    web = prod.service("web")
    versions = web.versions.model_copy(update={declared: "evil9"})
    edited = prod.model_copy(update={"services": [web.model_copy(update={"versions": versions})]})
    assert "evil9" in (edited.service("web").versions.blue, edited.service("web").versions.green)
    before = len(ledger.events())
    with pytest.raises(CheckFailed, match=r"web@evil9#unknown needs 2 approval\(s\) in prod"):
        gate(ledger, edited, "evil9", purpose="rollback")
    with pytest.raises(CheckFailed, match=r"web@v1#unknown needs 2 approval\(s\) in prod"):
        gate(ledger, prod, "v1", purpose="rollback")  # the committed prod.yaml's blue
    assert len(ledger.events()) == before  # nothing skipped, nothing recorded


def test_a_rollback_to_a_version_that_never_was_live_needs_approvals(
    ledger: SqliteLedger, prod: StackConfig
) -> None:
    before = len(ledger.events())
    with pytest.raises(CheckFailed, match=r"web@v9#unknown needs 2 approval\(s\) in prod"):
        gate(ledger, prod, "v9", purpose="rollback", author="unknown")
    assert len(ledger.events()) == before  # refused: nothing recorded
    # ada wrote v9 (the ledger says so, from dev): her approval never counts, even though
    # the rollback itself names no author.
    approve(ledger, "v9", "ada", "bob")
    with pytest.raises(CheckFailed, match="not counted: ada is the author"):
        gate(ledger, prod, "v9", purpose="rollback", author="unknown")
    approve(ledger, "v9", "carol")
    gate(ledger, prod, "v9", purpose="rollback", author="unknown")
    passed = ledger.events("prod")[-1]
    assert (passed.kind, passed.data["approvals"]) == ("gate-passed", ["bob", "carol"])


@pytest.mark.parametrize("author", ["unknown", "", "  ", "Unknown"])
def test_a_release_nobody_wrote_is_refused_before_any_approval_is_counted(
    ledger: SqliteLedger, prod: StackConfig, author: str
) -> None:
    approve(ledger, "v8", "bob", "carol")
    before = len(ledger.events())
    with pytest.raises(UsageError, match="web@v8#unknown has no known author") as refused:
        gate(ledger, prod, "v8", author=author)
    assert "--author WHO" in str(refused.value) and "\n" not in str(refused.value)
    assert len(ledger.events()) == before
    gate(ledger, prod, "v8", author="erin")  # named: bob and carol count


def test_a_release_nobody_deploys_is_refused(ledger: SqliteLedger, prod: StackConfig) -> None:
    approve(ledger, "v8", "bob", "carol")
    with pytest.raises(UsageError, match="who is deploying web@v8#unknown.*--by WHO"):
        gate(ledger, prod, "v8", actor="unknown")


def test_an_ungated_environment_takes_an_unknown_author(
    project: StackSources, ledger: SqliteLedger
) -> None:
    dev = load_stack(project, "dev").config
    assert dev.deploy.approvals.required == 0
    options = DeployOptions("dev", "v8", "web", author="unknown", actor="unknown")
    check_gate(ledger, "dev", dev, "web", options)  # no refusal, nothing recorded
