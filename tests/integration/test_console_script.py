"""The installed `shipyard` command, run as a real process, the way users and CI run it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from shipyard.config.load import StackSources
from tests.conftest import snapshot

SHIPYARD = Path(sys.executable).parent / "shipyard"


def shipyard(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SHIPYARD), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="module", autouse=True)
def installed() -> None:
    if not SHIPYARD.exists():
        pytest.fail(f"{SHIPYARD} missing: install the project (make install) before testing")


def test_render_is_byte_identical_across_processes(repo_sources: StackSources) -> None:
    first = shipyard("render", "prod", cwd=repo_sources.root)
    second = shipyard("render", "prod", cwd=repo_sources.root)
    assert first.returncode == second.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    assert first.stderr == ""


def test_bad_config_in_a_real_process_is_one_line_and_changes_nothing(
    project: StackSources,
) -> None:
    overlay = project.overlay("prod")
    overlay.write_text(overlay.read_text().replace("azCount: 3", "azCount: three"))
    before = snapshot(project.root)
    result = shipyard("stacks", "render", cwd=project.root / "stacks")
    assert result.returncode == 2
    assert result.stderr == (
        "shipyard: stacks/prod.yaml: network.azCount: must be a valid integer (got 'three')\n"
    )
    assert result.stdout == ""
    assert snapshot(project.root) == before


def test_demo_runs_from_anywhere_inside_the_project(repo_sources: StackSources) -> None:
    result = shipyard("demo", "--no-local", cwd=repo_sources.root / "components")
    assert result.returncode == 0, result.stderr
    assert "3 stacks," in result.stdout
    assert [line.split(":")[0] for line in result.stderr.splitlines()] == [
        "rendered dev",
        "rendered staging",
        "rendered prod",
    ]


def test_check_fails_a_real_process_with_exit_1(project: StackSources) -> None:
    stack_file = project.pulumi_stack_file("staging")
    stack_file.write_text(stack_file.read_text().replace("required: 1", "required: 0"))
    result = shipyard("stacks", "render", "--check", cwd=project.root)
    assert result.returncode == 1
    assert "Pulumi.staging.yaml: stale (first differing key: config.shipyard:deploy" in (
        result.stdout
    )
