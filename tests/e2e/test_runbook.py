"""docs/runbook.md, followed to the letter on the local platform.

Every `shipyard` line of every ```sh block runs, section after section, in one project, with
the exit code the runbook promises (`# exit N`, else 0); `export` lines set the environment.
Where a procedure answers an incident (a killed deploy, an undeclared difference, a faulty
release), the test first makes that incident happen, then runs the procedure as written.
Deploy policies are shortened (1 s bakes) so the whole runbook runs in under a minute; the
commands are untouched.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from rollout.ledger import SqliteLedger
from rollout.platforms.local.platform import local_down
from rollout.platforms.local.state import LocalState
from shipyard.config.load import StackSources
from shipyard.stacks import plan_stack_files, write_stack_files
from tests.conftest import REPO, CliResult
from tests.drills import deploy_held_at_step

RUNBOOK = REPO / "docs" / "runbook.md"
EXIT = re.compile(r"\s+#\s*exit\s+(\d+)\s*$")


@dataclass(frozen=True)
class Line:
    section: str
    text: str
    expect: int


def runbook() -> list[tuple[str, list[Line]]]:
    """(section title, its command lines) in document order."""
    sections: list[tuple[str, list[Line]]] = []
    in_block = False
    for raw in RUNBOOK.read_text(encoding="utf-8").splitlines():
        if raw.startswith("## "):
            sections.append((raw[3:].strip(), []))
        elif raw.strip().startswith("```"):
            in_block = raw.strip() == "```sh" and not in_block
        elif in_block and sections and raw.strip():
            match = EXIT.search(raw)
            text = EXIT.sub("", raw).strip()
            sections[-1][1].append(Line(sections[-1][0], text, int(match.group(1)) if match else 0))
    return sections


def test_the_runbook_covers_every_procedure_the_issue_names() -> None:
    titles = [title for title, _ in runbook()]
    for needed in (
        "Deploy a release to dev",
        "Promote to staging",
        "Approve and promote to prod",
        "Roll back",
        "A stale lock",
        "A failed parity check",
        "An automatic rollback happened",
        "Smoke tests fail: what to check first",
        "HAProxy died",
        "The ledger fails verification",
    ):
        assert needed in titles
    lines = [line.text for _, section in runbook() for line in section]
    assert all(line.startswith(("shipyard ", "export ")) for line in lines), lines
    for kind in ("rollback prod --service web", "--to v3", "--stack-version"):
        assert any(kind in line for line in lines), kind


@pytest.fixture
def rehearsal(project: StackSources) -> Iterator[StackSources]:
    for env in ("dev", "staging", "prod"):
        overlay = project.overlay(env)
        doc: dict[str, Any] = yaml.safe_load(overlay.read_text()) or {}
        doc.setdefault("deploy", {}).update(
            {
                "bakeSeconds": 1,
                "scaleDownDelaySeconds": 60,
                "readyTimeoutSeconds": 15,
                "analysis": {"minRequests": 0, "onInconclusive": "fail"},
            }
        )
        overlay.write_text(yaml.safe_dump(doc, sort_keys=False))
    write_stack_files(project, plan_stack_files(project))
    try:
        yield project
    finally:
        for env in ("dev", "staging", "prod"):
            local_down(project, env)


def kill_a_deploy_at_its_first_shift(project: StackSources) -> None:
    """The incident for "A stale lock": the deploy of web v5 dies inside step 4."""
    ledger = SqliteLedger(project.root / ".shipyard" / "ledger.db")
    with deploy_held_at_step(project.root, ledger, 3, "--service", "web", "--version", "v5"):
        pass


def change_a_health_check_in_staging(project: StackSources) -> Callable[[], None]:
    """The incident for "A failed parity check": an undeclared, critical difference."""
    overlay = project.overlay("staging")
    original = overlay.read_text()
    doc = yaml.safe_load(original)
    doc["services"] = [{"name": "web", "healthCheck": {"intervalSeconds": 20}}]
    overlay.write_text(yaml.safe_dump(doc, sort_keys=False))
    write_stack_files(project, plan_stack_files(project))

    def restore() -> None:
        overlay.write_text(original)
        write_stack_files(project, plan_stack_files(project))

    return restore


def deploy_a_faulty_release(project: StackSources, cli: Callable[..., CliResult]) -> None:
    """The incident for "An automatic rollback happened": v9 answers half with a 500."""
    overlay = project.overlay("dev")
    doc = yaml.safe_load(overlay.read_text())
    web = next(s for s in doc["services"] if s["name"] == "web")
    web.setdefault("environment", {})["APP_ERROR_RATE"] = "0.5@v9"
    overlay.write_text(yaml.safe_dump(doc, sort_keys=False))
    write_stack_files(project, plan_stack_files(project))
    failed = cli("deploy", "dev", "--service", "web", "--version", "v9", project=project)
    assert failed.code == 1 and "rolled-back" in failed.out, failed


def cut_a_rejection_off_the_ledger(project: StackSources, cli: Callable[..., CliResult]) -> None:
    """The incident for "The ledger fails verification": the last event, a rejection, deleted
    from the file (issue 12: the rejected release then deployed)."""
    rejected = cli(
        "reject", "prod", "--release", "web@v9#unknown", "--by", "frank", project=project
    )
    assert rejected.code == 0, rejected
    with sqlite3.connect(project.root / ".shipyard" / "ledger.db") as db:
        db.execute("DELETE FROM events WHERE seq = (SELECT MAX(seq) FROM events)")


def kill_haproxy_mid_rollout(project: StackSources) -> None:
    """The incident for "HAProxy died": HAProxy is killed while a deploy of web v10 waits
    inside its first traffic step; the deploy then fails, exit 1."""
    ledger = SqliteLedger(project.root / ".shipyard" / "ledger.db")
    state = LocalState.load(project.root, "dev")
    assert state is not None and state.haproxy_pid is not None
    args = ("--service", "web", "--version", "v10")
    with deploy_held_at_step(project.root, ledger, 3, *args, hold_seconds=2) as deploying:
        os.kill(state.haproxy_pid, signal.SIGKILL)
        assert deploying.wait(timeout=60) == 1


def test_every_procedure_runs_as_written(
    rehearsal: StackSources, cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    ran = []
    for title, lines in runbook():
        restore = None
        if title == "A stale lock":
            kill_a_deploy_at_its_first_shift(rehearsal)
        elif title == "A failed parity check":
            restore = change_a_health_check_in_staging(rehearsal)
        elif title == "An automatic rollback happened":
            deploy_a_faulty_release(rehearsal, cli)
        elif title == "HAProxy died":
            kill_haproxy_mid_rollout(rehearsal)
        elif title == "The ledger fails verification":
            cut_a_rejection_off_the_ledger(rehearsal, cli)
        for line in lines:
            words = shlex.split(line.text)
            if words[0] == "export":
                name, _, value = words[1].partition("=")
                monkeypatch.setenv(name, value)
                continue
            if "--stack-version" in words and shutil.which("pulumi") is not None:
                continue  # with the CLI it would act on a real stack
            result = cli(*words[1:], project=rehearsal)
            assert result.code == line.expect, (title, line.text, result)
            ran.append(line.text)
        if restore is not None:
            restore()
    assert len(ran) == sum(len(lines) for _, lines in runbook()) - 1  # all but the export
