"""docs/environments.md is generated from the parity report and checked for staleness."""

from __future__ import annotations

from collections.abc import Callable

import yaml

from shipyard.config.load import StackSources
from shipyard.stacks import plan_stack_files, write_stack_files
from tests.conftest import CliResult


def test_the_committed_document_is_current(
    cli: Callable[..., CliResult], repo_sources: StackSources
) -> None:
    result = cli("docs", "environments", "--check", project=repo_sources)
    assert (result.code, result.out) == (0, "docs/environments.md: up to date\n")


def test_a_changed_stack_makes_it_stale_until_written_again(
    cli: Callable[..., CliResult], project: StackSources
) -> None:
    assert cli("docs", "environments", project=project).code == 0
    doc = (project.root / "docs" / "environments.md").read_text()
    assert "### `*-alarms-*-5xx.threshold`\n\nProd pages on fewer errors." in doc
    assert (
        "| `threshold` | `10` | `10` | `5` | prod: stacks/prod.yaml: alarms.http5xxCount |" in doc
    )
    assert "Undeclared" not in doc

    overlay = project.overlay("staging")
    data = yaml.safe_load(overlay.read_text())
    data["services"] = [{"name": "web", "healthCheck": {"intervalSeconds": 20}}]
    overlay.write_text(yaml.safe_dump(data))
    write_stack_files(project, plan_stack_files(project))
    stale = cli("docs", "environments", "--check", project=project)
    assert stale.code == 1
    assert stale.err == (
        "shipyard: docs/environments.md is stale: run `shipyard docs environments` and commit "
        "the result\n"
    )
    assert cli("docs", "environments", project=project).code == 0
    doc = (project.root / "docs" / "environments.md").read_text()
    # Where it is set, both target groups, and both services' grace periods it feeds.
    assert "## Undeclared differences (5)" in doc
    assert (
        "| `web-live-tg.healthCheck.interval` | `10` | `20` | `10` | staging: stacks/staging.yaml:"
        " services[name=web].healthCheck.intervalSeconds |"
    ) in doc
    assert cli("docs", "environments", "--check", project=project).code == 0
