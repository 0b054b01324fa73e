"""GitHub workflows: valid by GitHub's schema, pinned, least-privileged, and their shipyard
commands proven to exist by running them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

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


INFRA, DEPLOY = "vars.SHIPYARD_INFRA_ROLE_ARN", "vars.SHIPYARD_DEPLOY_ROLE_ARN"
# rollback.yml's one conditional role: a stack version runs `pulumi up` inside shipyard.
BY_STACK_VERSION = f"${{{{ inputs.stack_version != '' && {INFRA} || {DEPLOY} }}}}"


def _role(expression: str, stack_version: bool) -> str:
    if expression == BY_STACK_VERSION:
        return INFRA if stack_version else DEPLOY
    assert expression in (f"${{{{ {INFRA} }}}}", f"${{{{ {DEPLOY} }}}}"), expression
    return expression[4:-3]


def _needs(step: dict[str, Any], stack_version: bool) -> str | None:
    """The role a step's commands need: pulumi's for `pulumi` (and shipyard's --stack-version,
    which runs `pulumi up`), the deployer's for shipyard; None for neither."""
    if str(step.get("uses", "")).startswith("pulumi/actions@") and "command" in step.get(
        "with", {}
    ):
        return INFRA
    lines = [line.strip() for line in step.get("run", "").splitlines()]
    pulumi = any(line.startswith("pulumi ") for line in lines)
    shipyard = [line for line in lines if ".venv/bin/shipyard " in line]
    # rollback.yml branches on "$STACK_VERSION": only the taken branch runs.
    if any("--stack-version" in line for line in shipyard):
        pulumi = pulumi or stack_version
        shipyard = [] if stack_version else [s for s in shipyard if "--stack-version" not in s]
    assert not (pulumi and shipyard), ("one role per step", step.get("name"))
    return INFRA if pulumi else DEPLOY if shipyard else None


def steps_and_roles(workflow: Path, stack_version: bool) -> list[tuple[str, str | None, str]]:
    """(job/step, the role in effect: the last configure-aws-credentials before it, its need)."""
    found = []
    for name, job in yaml.safe_load(workflow.read_text())["jobs"].items():
        role: str | None = None
        for step in job["steps"]:
            if str(step.get("uses", "")).startswith("aws-actions/configure-aws-credentials@"):
                role = _role(step["with"]["role-to-assume"], stack_version)
                continue
            need = _needs(step, stack_version)
            if need is not None:
                found.append((f"{name}/{step.get('name', step.get('uses'))}", role, need))
    return found


@pytest.mark.parametrize("stack_version", [False, True], ids=["deploy", "stack-version"])
@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_pulumi_runs_as_the_infrastructure_role_and_shipyard_as_the_deployer(
    workflow: Path, stack_version: bool
) -> None:
    """docs/aws.md, "Which role runs what". configure-aws-credentials exports the role's keys
    as AWS_ACCESS_KEY_ID/SECRET/SESSION_TOKEN for the steps after it, each run replacing the
    last (its src/helpers.ts exportCredentials; with OIDC and no role-chaining it assumes the
    role afresh, not from the previous keys: src/index.ts at the pinned v4.0.2)."""
    for where, role, need in steps_and_roles(workflow, stack_version):
        # shipyard's offline steps (render, parity) run before any role: None is fine there.
        allowed = {INFRA} if need == INFRA else {DEPLOY, None}
        assert role in allowed, f"{workflow.name} {where} runs as {role}, needs {need}"


def test_the_role_check_catches_a_step_under_the_wrong_role(tmp_path: Path) -> None:
    """The user's mistake: `pulumi stack output` moved back into the deployer's step."""
    text = (REPO / ".github/workflows/deploy-dev.yml").read_text()
    doc = yaml.safe_load(text)
    steps = doc["jobs"]["deploy"]["steps"]
    deploy = next(s for s in steps if s.get("id") == "deploy")
    deploy["run"] = 'pulumi stack output -s dev --json > "$SHIPYARD_STACK_OUTPUTS"\n'
    moved = tmp_path / "deploy-dev.yml"
    moved.write_text(yaml.safe_dump(doc))
    assert (f"deploy/{deploy['name']}", DEPLOY, INFRA) in steps_and_roles(moved, False)
    uses = [s.get("uses", "") for s in steps]
    assert sum(u.startswith("aws-actions/configure-aws-credentials@") for u in uses) == 2
    pins = {u for u in uses if u.startswith("aws-actions/configure-aws-credentials@")}
    assert len(pins) == 1  # the same pinned SHA for both roles
