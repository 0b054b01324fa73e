"""GitHub workflows: valid by GitHub's schema, pinned, least-privileged, and their shipyard
commands proven to exist by running them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from shipyard.config.load import StackSources
from tests.workflow_commands import workflow_commands

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
BIN = Path(sys.executable).parent
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")


def test_there_are_workflows() -> None:
    assert {w.name for w in WORKFLOWS} == {
        "approve.yml",
        "ci.yml",
        "deploy-dev.yml",
        "parity-nightly.yml",
        "promote.yml",
        "rollback.yml",
    }


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_every_step_has_a_timeout_and_they_fit_the_jobs_budget(workflow: Path) -> None:
    doc = yaml.safe_load(workflow.read_text())
    for name, job in doc["jobs"].items():
        steps = [step.get("timeout-minutes") for step in job["steps"]]
        assert all(isinstance(minutes, int) and minutes >= 1 for minutes in steps), (name, steps)
        assert sum(steps) <= job["timeout-minutes"], (name, steps, job["timeout-minutes"])


def test_every_merge_is_live_in_dev_within_15_minutes_at_worst() -> None:
    doc = yaml.safe_load((REPO / ".github" / "workflows" / "deploy-dev.yml").read_text())
    assert list(doc["jobs"]) == ["deploy"]  # one job: no queueing between jobs
    job = doc["jobs"]["deploy"]
    assert job["timeout-minutes"] == 15
    assert sum(step["timeout-minutes"] for step in job["steps"]) == 15
    budget = re.search(r"= (\d+)\n", (REPO / ".github/workflows/deploy-dev.yml").read_text())
    assert budget is not None and budget.group(1) == "15"  # the documented sum


def test_promote_checks_parity_before_any_infrastructure_changes() -> None:
    """`pulumi up` applies the target's stack before `shipyard promote` runs its parity gate:
    a parity step with the same minimum must stop the job first, in every promote job."""
    text = (REPO / ".github/workflows/promote.yml").read_text()
    doc = yaml.safe_load(text)
    budget = re.search(r"= (\d+)\.\n", text)  # the documented sum
    assert budget is not None
    for name, job in doc["jobs"].items():
        steps = job["steps"]
        runs = [step.get("run", "") for step in steps]
        (pulumi_up,) = [i for i, s in enumerate(steps) if s.get("with", {}).get("command") == "up"]
        (promote,) = [i for i, run in enumerate(runs) if "--min-parity" in run]
        gate = re.search(r"shipyard promote (\w+) (\w+) .*--min-parity (\S+)", runs[promote])
        assert gate is not None, runs[promote]
        source, target, minimum = gate.groups()
        assert target == steps[pulumi_up]["with"]["stack-name"] == name
        check = f".venv/bin/shipyard parity {source} {target} --min-score {minimum} "
        parity = [i for i, run in enumerate(runs) if run.startswith(check)]
        assert parity and parity[0] < pulumi_up < promote, (name, parity, pulumi_up, promote)
        assert sum(step["timeout-minutes"] for step in steps) == int(budget.group(1))


def test_environments_never_race() -> None:
    groups = {}
    for workflow in WORKFLOWS:
        doc = yaml.safe_load(workflow.read_text())
        for name, job in doc["jobs"].items():
            group = (job.get("concurrency") or doc.get("concurrency") or {}).get("group")
            groups[(workflow.name, name)] = group
    assert groups[("deploy-dev.yml", "deploy")] == "environment-dev"
    assert groups[("promote.yml", "staging")] == "environment-staging"
    assert groups[("promote.yml", "prod")] == "environment-prod"
    assert groups[("rollback.yml", "rollback")] == "environment-${{ inputs.environment }}"
    deploy = yaml.safe_load((REPO / ".github/workflows/deploy-dev.yml").read_text())
    assert deploy["concurrency"]["cancel-in-progress"] is False  # never kill a rollout


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_valid_against_githubs_workflow_schema(workflow: Path) -> None:
    result = subprocess.run(
        [
            str(BIN / "check-jsonschema"),
            "--builtin-schema",
            "vendor.github-workflows",
            str(workflow),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_actions_are_pinned_by_commit_and_permissions_are_explicit(workflow: Path) -> None:
    doc = yaml.safe_load(workflow.read_text())
    permissions = doc.get("permissions")
    assert isinstance(permissions, dict), "set least permissions at the top level"
    assert "write-all" not in str(permissions)
    for job in doc["jobs"].values():
        assert "timeout-minutes" in job
        for step in job["steps"]:
            if "uses" in step:
                assert PINNED.match(step["uses"]), step["uses"]


def test_the_nightly_parity_commands_run_as_written(
    repo_sources: StackSources, tmp_path: Path
) -> None:
    found = workflow_commands(REPO / ".github" / "workflows" / "parity-nightly.yml")
    commands = [command.argv({}) for command in found]
    assert [c[:1] for c in commands] == [["stacks"], ["parity"], ["parity"], ["parity"]]
    for args in commands:
        result = subprocess.run(
            [str(BIN / "shipyard"), "--project-dir", str(repo_sources.root), *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, (args, result.stderr)
    assert (tmp_path / "parity.json").stat().st_size > 1000
    assert "<html" in (tmp_path / "parity.html").read_text()


def test_dev_deploys_record_the_commits_author_never_whoever_pushed() -> None:
    """staging and prod exclude the author recorded here from their approvals: it must be the
    commit's (GitHub login, else git's email), passed through env, never `github.actor`."""
    doc = yaml.safe_load((REPO / ".github/workflows/deploy-dev.yml").read_text())
    step = next(s for s in doc["jobs"]["deploy"]["steps"] if "deploy dev" in s.get("run", ""))
    assert step["env"]["AUTHOR"] == "${{ github.event.head_commit.author.username }}"
    assert '--author "$AUTHOR"' in step["run"]
    defaults = [line for line in step["run"].splitlines() if line.startswith(": ")]
    script = "\n".join([*defaults, 'printf %s "$AUTHOR"'])
    git_author = subprocess.run(
        ["git", "log", "-1", "--format=%ae"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()
    for given, recorded in (("", git_author), ("ada", "ada")):  # hand-started / pushed
        ran = subprocess.run(
            ["bash", "-c", script],
            cwd=REPO,
            env={"PATH": os.environ["PATH"], "AUTHOR": given},
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        assert ran.stdout == recorded and recorded


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_event_text_reaches_scripts_through_env_never_inline(workflow: Path) -> None:
    # An expression inside `run:` is pasted into the script before the shell reads it; GitHub's
    # fix is an intermediate environment variable:
    # https://docs.github.com/en/actions/reference/security/secure-use#use-an-intermediate-environment-variable
    doc = yaml.safe_load(workflow.read_text())
    for job in doc["jobs"].values():
        for step in job["steps"]:
            assert "${{" not in step.get("run", ""), (workflow.name, step.get("name"))


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_a_workflow_on_the_team_ledger_has_its_key(workflow: Path) -> None:
    """A fresh runner has no ~/.config/shipyard/ledger.key: without the shared key from a
    secret, the first run would sign the team ledger's head with a throwaway key and every
    later run would find it unverifiable."""
    env = yaml.safe_load(workflow.read_text()).get("env", {})
    if "SHIPYARD_LEDGER" in env:
        assert env.get("SHIPYARD_LEDGER_KEY") == "${{ secrets.SHIPYARD_LEDGER_KEY }}"
