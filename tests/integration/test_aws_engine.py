"""Rollback to an earlier Pulumi stack version, against the fake engine and a real git repo."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from rollout.platforms.aws.engine import (
    AutomationEngine,
    FakeEngine,
    StackUpdate,
    rollback_to_stack_version,
)
from shipyard.config.load import StackSources
from shipyard.errors import CheckFailed, UsageError
from tests.conftest import CliResult, snapshot


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, list[str]]:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "ci@example.com")
    git(repo, "config", "user.name", "ci")
    heads = []
    for version in ("v1", "v2"):
        (repo / "Pulumi.yaml").write_text(f"name: shipyard\n# {version}\n")
        (repo / f"{version}.txt").write_text(version)
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", version)
        heads.append(git(repo, "rev-parse", "HEAD"))
    return repo, heads


def history(heads: list[str]) -> list[StackUpdate]:
    return [  # newest first
        StackUpdate(
            5, "update", "succeeded", heads[1], config={"aws:region": ("eu-west-1", False)}
        ),
        StackUpdate(4, "update", "succeeded", heads[1], git_dirty=True),
        StackUpdate(3, "update", "failed", heads[0]),
        StackUpdate(2, "refresh", "succeeded", heads[0]),
        StackUpdate(
            1, "update", "succeeded", heads[0], config={"aws:region": ("us-east-1", False)}
        ),
    ]


def worktrees(repo: Path) -> list[str]:
    return [line for line in git(repo, "worktree", "list").splitlines()]


def test_the_chosen_update_is_checked_out_configured_refreshed_and_upped(
    repo: tuple[Path, list[str]],
) -> None:
    path, heads = repo
    engine = FakeEngine(history(heads))
    update = rollback_to_stack_version(engine, path, "prod", 1)
    assert (update.version, update.git_head) == (1, heads[0])
    assert [call for call, _ in engine.calls] == ["set_config", "refresh", "up"]
    assert len({folder for _, folder in engine.calls}) == 1  # all in one worktree
    assert "v1.txt" in engine.seen_files[0] and "v2.txt" not in engine.seen_files[0]
    assert len(worktrees(path)) == 1  # the temporary worktree is gone
    assert not Path(engine.calls[0][1]).exists()


@pytest.mark.parametrize(
    ("version", "message"),
    [
        (4, "uncommitted changes (git.dirty)"),
        (3, "no successful update 3"),
        (2, "no successful update 2"),
        (9, "successful updates: 5, 4, 1"),
    ],
)
def test_refused_versions(repo: tuple[Path, list[str]], version: int, message: str) -> None:
    path, heads = repo
    engine = FakeEngine(history(heads))
    with pytest.raises(CheckFailed, match=message.replace("(", r"\(").replace(")", r"\)")):
        rollback_to_stack_version(engine, path, "prod", version)
    assert engine.calls == []
    assert len(worktrees(path)) == 1


def test_the_worktree_is_removed_when_up_fails(repo: tuple[Path, list[str]]) -> None:
    path, heads = repo
    engine = FakeEngine(history(heads), fail_up=True)
    with pytest.raises(RuntimeError, match="pulumi up failed"):
        rollback_to_stack_version(engine, path, "prod", 5)
    assert len(worktrees(path)) == 1
    assert not Path(engine.calls[-1][1]).exists()


@pytest.mark.skipif(shutil.which("pulumi") is None, reason="needs the pulumi CLI")
def test_the_real_engine_reads_a_stack_history(  # pragma: no cover - needs the CLI
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pulumi import automation

    (tmp_path / "state").mkdir()
    monkeypatch.setenv("PULUMI_BACKEND_URL", f"file://{tmp_path / 'state'}")
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "")
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text(
        "name: drill\nruntime: yaml\nresources: {}\noutputs:\n  answer: 42\n"
    )
    automation.create_or_select_stack(stack_name="dev", work_dir=str(project)).up()
    engine = AutomationEngine(project)
    updates = engine.history("dev")
    assert [(u.kind, u.result) for u in updates][:1] == [("update", "succeeded")]
    assert engine.outputs("dev") == {"answer": 42}
    assert set(engine.preview("dev", project)) <= {"same"}  # nothing to change


def test_without_the_cli_the_real_engine_says_what_to_install() -> None:
    if shutil.which("pulumi") is not None:
        pytest.skip("the pulumi CLI is installed here")
    with pytest.raises(UsageError, match="needs the Pulumi CLI on PATH"):
        AutomationEngine(Path("."))


def test_rollback_to_a_stack_version_without_the_cli_is_one_line_exit_2(
    cli: Callable[..., CliResult], repo_sources: StackSources
) -> None:
    if shutil.which("pulumi") is not None:
        pytest.skip("the pulumi CLI is installed here")
    result = cli("rollback", "prod", "--stack-version", "3", project=repo_sources)
    assert result.code == 2
    assert result.err.startswith("shipyard: this needs the Pulumi CLI on PATH")


def test_deploy_on_aws_without_the_cli_asks_for_the_stack_outputs_file(
    cli: Callable[..., CliResult], project: StackSources
) -> None:
    if shutil.which("pulumi") is not None:
        pytest.skip("the pulumi CLI is installed here")
    files = snapshot(project.root)
    result = cli("deploy", "dev", "--service", "web", "--version", "v9", "--platform", "aws",
                 project=project)  # fmt: skip
    assert result.code == 2
    assert result.err == (
        "shipyard: --platform aws reads the stack's outputs through the Pulumi CLI, which is "
        "not on PATH: install it, or pass --stack-outputs FILE (written by `pulumi stack "
        "output -s dev --json > FILE`)\n"
    )
    assert snapshot(project.root) == files
