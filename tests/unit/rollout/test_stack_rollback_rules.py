"""The rules under `--stack-version`: which virtualenv Pulumi would use for a commit's
Pulumi.yaml, how a self-managed backend's history is numbered, where traffic may go."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollout.platforms.aws.engine import StackUpdate
from rollout.platforms.aws.stack_history import BY_POSITION, BY_PULUMI, numbered
from rollout.platforms.aws.traffic_guard import warm_target
from rollout.platforms.aws.worktree_python import virtualenv_of
from shipyard.config.model import Color
from shipyard.errors import CheckFailed, UsageError

BLUE, GREEN = Color.BLUE, Color.GREEN
COMMIT = "0123456789abcdef"


def project(tmp_path: Path, text: str) -> Path:
    (tmp_path / "Pulumi.yaml").write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    ("runtime", "message"),
    [
        ("runtime: python", "runtime.options.virtualenv is not set"),
        ("runtime: {name: python, options: {toolchain: poetry}}", "toolchain is 'poetry'"),
        ("runtime: {name: python, options: {toolchain: uv, virtualenv: .venv}}", "is 'uv'"),
        ("runtime: {name: python, options: {virtualenv: /opt/venv}}", "outside the checkout"),
        ("runtime: {name: python, options: {virtualenv: ../venv}}", "outside the checkout"),
        ("runtime: nodejs", "runtime is 'nodejs'"),
    ],
)
def test_a_pulumi_yaml_shipyard_cannot_prepare_is_refused_naming_the_key(
    tmp_path: Path, runtime: str, message: str
) -> None:
    with pytest.raises(UsageError, match=message) as refused:
        virtualenv_of(project(tmp_path, f"name: shipyard\n{runtime}\n"), COMMIT)
    assert str(refused.value).startswith("Pulumi.yaml at 0123456789ab: ")


@pytest.mark.parametrize(
    ("options", "folder"),
    [("{virtualenv: .venv}", ".venv"), ("{toolchain: pip, virtualenv: env/py}", "env/py")],
)
def test_the_virtualenv_is_where_the_commits_pulumi_yaml_says(
    tmp_path: Path, options: str, folder: str
) -> None:
    text = f"name: shipyard\nruntime:\n  name: python\n  options: {options}\n"
    assert virtualenv_of(project(tmp_path, text), COMMIT) == (tmp_path / folder).resolve()


def test_a_self_managed_backend_is_numbered_by_position_oldest_first() -> None:
    zeros = [StackUpdate(0, "update", "succeeded", "c"), StackUpdate(0, "refresh", "succeeded"),
             StackUpdate(0, "update", "succeeded", "a")]  # fmt: skip
    updates, how = numbered(zeros)
    assert how == BY_POSITION
    assert [(u.version, u.kind, u.git_head) for u in updates] == [
        (3, "update", "c"),
        (2, "refresh", None),
        (1, "update", "a"),
    ]
    cloud = [StackUpdate(12, "update", "succeeded"), StackUpdate(11, "update", "failed")]
    assert numbered(cloud) == (cloud, BY_PULUMI)


def test_traffic_on_a_color_without_tasks_goes_to_a_warm_color_the_active_one_first() -> None:
    assert warm_target("web", BLUE, {BLUE: 100, GREEN: 0}, {BLUE: 2, GREEN: 0}) is None
    assert warm_target("web", BLUE, {BLUE: 0, GREEN: 100}, {BLUE: 2, GREEN: 0}) is BLUE
    assert warm_target("web", GREEN, {BLUE: 90, GREEN: 10}, {BLUE: 2, GREEN: 0}) is BLUE
    assert warm_target("web", GREEN, {BLUE: 50, GREEN: 50}, {BLUE: 0, GREEN: 3}) is GREEN
    with pytest.raises(CheckFailed, match="web: the production listener forwards to blue and "):
        warm_target("web", BLUE, {BLUE: 100, GREEN: 0}, {BLUE: 0, GREEN: 0})
