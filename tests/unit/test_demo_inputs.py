"""`shipyard demo` refuses, in one line and before starting anything, what it cannot run."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable

import pytest

from rollout.demo import KNOBS
from shipyard.config.load import StackSources
from tests.conftest import REPO, CliResult, snapshot


def test_a_project_without_the_sample_service_is_one_line_and_exit_2(
    cli: Callable[..., CliResult], project: StackSources
) -> None:
    shutil.rmtree(project.root / "examples")
    before = snapshot(project.root)
    result = cli("demo", project=project)
    assert result.code == 2, result
    assert result.err == (
        f"shipyard: {project.root} has no examples/app/server.py: the demo runs the sample "
        "service from a checkout of shipyard; run it there, or copy examples/ and __main__.py "
        "here\n"
    )
    assert snapshot(project.root) == before  # no .shipyard/demo/ left behind


def test_fault_knobs_set_in_the_shell_are_refused_with_where_they_go(
    cli: Callable[..., CliResult], project: StackSources, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APP_ERROR_RATE", "0.5")
    monkeypatch.setenv("APP_FAIL_HEALTH", "1")
    monkeypatch.setenv("APP_NAME", "not a knob: left alone")
    before = snapshot(project.root)
    result = cli("demo", "--format", "json", project=project)
    assert result.code == 2, result
    assert result.err == (
        "shipyard: APP_ERROR_RATE, APP_FAIL_HEALTH set in this shell never reach the sample "
        "service (the local platform passes no APP_* variable on): unset them; fault knobs go "
        'under a service\'s environment in stacks/<env>.yaml, e.g. APP_ERROR_RATE: "0.3@v3"\n'
    )
    assert result.out == ""
    assert snapshot(project.root) == before


def test_the_refused_knobs_are_the_ones_the_sample_service_reads() -> None:
    server = (REPO / "examples" / "app" / "server.py").read_text(encoding="utf-8")
    assert sorted(KNOBS) == sorted(re.findall(r'knob\("(APP_[A-Z_]+)"\)', server))
