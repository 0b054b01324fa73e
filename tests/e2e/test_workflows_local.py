"""Every workflow's shipyard commands, as written in .github/workflows, run in order against
the local platform: a merge deployed to dev, promoted through staging's gate and prod's two
reviewers, approved and rejected by one click, and rolled back three ways. A workflow that
called a command or a flag that does not exist fails here, not in a 2 AM incident."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml

from rollout.platforms.local.platform import local_down
from rollout.platforms.local.status import local_status
from shipyard.config.load import StackSources
from shipyard.stacks import plan_stack_files, write_stack_files
from tests.conftest import REPO, CliResult
from tests.workflow_commands import Command, workflow_commands

WORKFLOWS = REPO / ".github" / "workflows"
UNKNOWN = ("No such option", "No such command", "Got unexpected extra argument")


@pytest.fixture
def pipeline(project: StackSources, monkeypatch: pytest.MonkeyPatch) -> Iterator[StackSources]:
    """The project with quick deploy policies, one process per color in prod (a laptop)."""
    for env in ("dev", "staging", "prod"):
        overlay = project.overlay(env)
        doc: dict[str, Any] = yaml.safe_load(overlay.read_text()) or {}
        doc.setdefault("deploy", {}).update(
            {
                "trafficSteps": [50, 100],
                "bakeSeconds": 0,
                "scaleDownDelaySeconds": 60,
                "readyTimeoutSeconds": 15,
                "analysis": {"minRequests": 0},
            }
        )
        for service in doc.get("services", []):
            if env == "prod":
                service["desiredCount"] = 1
        overlay.write_text(yaml.safe_dump(doc, sort_keys=False))
    # Every environment now has the same quick rollout: the parity rules that say how prod's
    # differs would be broken (they are assertions), so they go with it.
    quick = {"trafficSteps", "bakeSeconds", "scaleDownDelaySeconds"}
    policy_file = project.stacks_dir / "parity.yaml"
    policy = yaml.safe_load(policy_file.read_text())
    policy["rules"] = [
        rule
        for rule in policy["rules"]
        if not any(rule["path"].startswith(f"stack-config.deploy.{key}") for key in quick)
    ]
    policy_file.write_text(yaml.safe_dump(policy, sort_keys=False))
    write_stack_files(project, plan_stack_files(project))
    monkeypatch.setenv("SHIPYARD_ACTOR", "github-actions")  # the workflows' SHIPYARD_ACTOR
    try:
        yield project
    finally:
        for env in ("dev", "staging", "prod"):
            local_down(project, env)


class Runner:
    def __init__(self, cli: Callable[..., CliResult], project: StackSources) -> None:
        self.cli = cli
        self.project = project
        self.ran: list[tuple[str, int]] = []

    def run(self, command: Command, values: dict[str, str], expect: int = 0) -> CliResult:
        args = command.argv(values)
        result = self.cli(*args, project=self.project)
        assert not any(text in result.err for text in UNKNOWN), (command.line, result.err)
        assert result.code == expect, (command.step, args, result)
        if command.capture is not None:
            values[command.capture[0]] = command.captured(result.out)
        self.ran.append((" ".join(args[:2]), result.code))
        return result


def live_version(project: StackSources, env: str, service: str) -> str:
    status = local_status(project, env)
    found = next(s for s in status["services"] if s["name"] == service)
    return str(found["versions"][found["active_color"]])


def test_the_workflows_commands_run_as_written(
    pipeline: StackSources, cli: Callable[..., CliResult]
) -> None:
    runner = Runner(cli, pipeline)

    # deploy-dev.yml: checks, parity, the deploy of the merge, a smoke test of production.
    deploy_dev = workflow_commands(WORKFLOWS / "deploy-dev.yml")
    merge = {
        "SERVICE": "web",
        "VERSION": "v3",
        "COMMIT_TIME": "2026-11-28T09:14:00Z",
        "AUTHOR": "ada",
    }
    on_failure = deploy_dev.pop()  # the rollback step, run at the end
    assert [c.argv(merge)[0] for c in deploy_dev] == ["stacks", "parity", "deploy", "smoke"]
    for command in deploy_dev:
        runner.run(command, merge)
    assert live_version(pipeline, "dev", "web") == "v3"

    # promote.yml, staging: parity before `pulumi up`, the GitHub environment's approver
    # recorded, then the promotion.
    staging = workflow_commands(WORKFLOWS / "promote.yml", "staging")
    approval = {"SERVICE": "web", "login": "bob"}
    for command in staging:
        runner.run(command, approval)
    assert approval["RELEASE"] == "web@v3#v3"
    assert live_version(pipeline, "staging", "web") == "v3"

    # approve.yml: a second reviewer for prod, in one click (reject/approve by DECISION).
    reject, approve = workflow_commands(WORKFLOWS / "approve.yml")
    vote = {"ENVIRONMENT": "prod", "RELEASE": "web@v3#v3", "REVIEWER": "carol", "COMMENT": "ok"}
    runner.run(approve, vote)

    # promote.yml, prod: the environment's approver (bob) makes two; the author never counts.
    prod = workflow_commands(WORKFLOWS / "promote.yml", "prod")
    for command in prod:
        runner.run(command, approval)
    assert live_version(pipeline, "prod", "web") == "v3"

    # rollback.yml: a stack version needs the Pulumi CLI (not here); no version flips back
    # instantly, once (a second one has nothing to undo); a version that was live in prod by
    # the ledger redeploys without waiting for reviewers, one that never was goes through the
    # gate, which first needs to know who wrote it (v9 went nowhere with an author).
    by_stack, to_version, instant = workflow_commands(WORKFLOWS / "rollback.yml")
    one_click = {"ENVIRONMENT": "prod", "SERVICE": "web", "VERSION": "v1", "STACK_VERSION": "3"}
    result = runner.run(by_stack, one_click, expect=2)
    assert "Pulumi CLI" in result.err
    runner.run(instant, one_click)
    assert live_version(pipeline, "prod", "web") != "v3"
    again = runner.run(instant, one_click, expect=1)
    assert "nothing to roll back: web's last rollout (v3) was already rolled back" in again.err
    refused = runner.run(to_version, {**one_click, "VERSION": "v9"}, expect=2)
    assert "web@v9#unknown has no known author" in refused.err and "--author" in refused.err
    runner.run(to_version, {**one_click, "VERSION": "v3"})  # live before: no reviewers
    assert live_version(pipeline, "prod", "web") == "v3"

    # deploy-dev.yml's on-failure step, and a rejection from approve.yml.
    runner.run(on_failure, merge)
    assert live_version(pipeline, "dev", "web") == "v2"  # v3 was live: rolled back
    runner.run(on_failure, merge)  # v3 is no longer live: nothing happens
    assert live_version(pipeline, "dev", "web") == "v2"
    runner.run(reject, {**vote, "REVIEWER": "dave", "COMMENT": "not yet"})
    assert runner.ran == [
        ("stacks render", 0),
        ("parity --format", 0),
        ("deploy dev", 0),
        ("smoke --env", 0),
        ("parity dev", 0),
        ("promote dev", 0),
        ("approve staging", 0),
        ("promote dev", 0),
        ("smoke --env", 0),
        ("approve prod", 0),
        ("parity staging", 0),
        ("promote staging", 0),
        ("approve prod", 0),
        ("promote staging", 0),
        ("smoke --env", 0),
        ("rollback prod", 2),
        ("rollback prod", 0),
        ("rollback prod", 1),
        ("rollback prod", 2),
        ("rollback prod", 0),
        ("rollback dev", 0),
        ("rollback dev", 0),
        ("reject prod", 0),
    ]
