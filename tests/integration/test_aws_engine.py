"""The real Pulumi engine (when the CLI is here), and what shipyard says without it.

Rollback to a stack version against the fake engine and a real git repository:
test_stack_rollback.py."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from rollout.platforms.aws.engine import AutomationEngine, StackUpdate
from rollout.platforms.aws.stack_history import BY_POSITION, numbered
from rollout.platforms.aws.stack_rollback import StackRollbackResult
from shipyard.cli.stack_rollback import render
from shipyard.config.load import StackSources
from shipyard.errors import UsageError
from tests.conftest import CliResult, snapshot


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
    # A file backend records no version numbers (0): shipyard numbers by position.
    assert [u.version for u in updates] == [0]
    assert numbered(updates)[1] == BY_POSITION
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


def test_dry_run_without_a_stack_version_is_one_line_exit_2(
    cli: Callable[..., CliResult], project: StackSources
) -> None:
    files = snapshot(project.root)
    result = cli("rollback", "prod", "--dry-run", project=project)
    assert (result.code, result.out) == (2, "")
    assert result.err == (
        "shipyard: --dry-run applies to --stack-version only: add it, or drop --dry-run\n"
    )
    assert snapshot(project.root) == files


def rolled_back(status: str, files: list[str]) -> StackRollbackResult:
    update = StackUpdate(3, "update", "succeeded", "a" * 40, started="2026-11-30T10:00:00")
    message = "redeployed as update 3 (" + "a" * 40 + ")" if status == "succeeded" else ""
    traffic = ["web: green 100% ... moved to blue (2 tasks)"] if files else []
    return StackRollbackResult("prod", update, BY_POSITION, "b" * 40, status, files, traffic,
                               message)  # fmt: skip


def test_the_result_is_said_in_text_and_in_json(capsys: pytest.CaptureFixture[str]) -> None:
    render(rolled_back("planned", ["stacks/prod.yaml", "Pulumi.prod.yaml"]), "text")
    assert capsys.readouterr().out == (
        f"prod: would redeploy update 3 (numbered by position, 1 = oldest) from commit {'a' * 40}"
        " (started 2026-11-30T10:00:00), then write stacks/prod.yaml and Pulumi.prod.yaml back "
        "with the live colors and versions kept\n"
    )
    render(rolled_back("succeeded", ["stacks/prod.yaml"]), "text")
    said = capsys.readouterr()
    assert said.out == (
        f"prod: redeployed as update 3 ({'a' * 40}) (numbered by position, 1 = oldest)\n"
    )
    assert "web: green 100% ... moved to blue (2 tasks)" in said.err
    assert "wrote stacks/prod.yaml back (the live colors kept): commit them" in said.err
    render(rolled_back("succeeded", ["stacks/prod.yaml"]), "json")
    assert json.loads(capsys.readouterr().out) == {
        "environment": "prod",
        "status": "succeeded",
        "version": 3,
        "numbering": "position",
        "git_head": "a" * 40,
        "started": "2026-11-30T10:00:00",
        "head": "b" * 40,
        "files": ["stacks/prod.yaml"],
        "traffic": ["web: green 100% ... moved to blue (2 tasks)"],
        "message": f"redeployed as update 3 ({'a' * 40})",
    }


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--service", "web"], "--stack-version redeploys the whole stack, every service: drop"),
        (["--to", "v3"], "--stack-version redeploys the whole stack, every service: drop"),
        (["--platform", "local"], "--stack-version redeploys a Pulumi stack on AWS, not on"),
    ],
)
def test_options_a_stack_rollback_cannot_honour_are_refused(
    cli: Callable[..., CliResult], project: StackSources, extra: list[str], message: str
) -> None:
    files = snapshot(project.root)
    result = cli("rollback", "prod", "--stack-version", "3", *extra, project=project)
    assert result.code == 2, result
    assert result.err.startswith(f"shipyard: {message}") and result.err.count("\n") == 1
    assert snapshot(project.root) == files


@pytest.mark.parametrize(
    ("stderr", "message"),
    [
        ("error: no stack named 'prod' found", "pulumi has no stack 'prod' here (error: no stack"),
        ("error: PULUMI_ACCESS_TOKEN must be set for login", "pulumi select -s prod failed: "),
    ],
)
def test_a_failing_pulumi_cli_is_one_line_never_a_traceback(
    cli: Callable[..., CliResult],
    project: StackSources,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    stderr: str,
    message: str,
) -> None:
    """A stand-in `pulumi` that knows its version and fails everything else, as the real one
    does with no login or no such stack."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "pulumi"
    fake.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "version" ]; then echo v3.200.0; exit 0; fi\n'
        f'echo "{stderr}" >&2\nexit 255\n',
        encoding="utf-8",
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    files = snapshot(project.root)
    result = cli("rollback", "prod", "--stack-version", "3", "--dry-run", project=project)
    assert result.code == 1, result
    assert result.err.startswith(f"shipyard: {message}") and "Traceback" not in result.err
    assert result.err.count("\n") == 1
    assert snapshot(project.root) == files
