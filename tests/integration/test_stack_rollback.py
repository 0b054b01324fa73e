"""`rollback ENV --stack-version N` against the fake engine and a real git repository.

The repository is a copy of this project with two commits: update 1 ran from the first
(web at desiredCount 4), update 5 from the second (6); afterwards a rollout recorded web live
on green at v8 in the working tree. The backend is self-managed: Pulumi reports version 0 for
every update, so shipyard numbers them by position.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from rollout.ledger import LockHeld, SqliteLedger
from rollout.platforms.aws.engine import FakeEngine, StackUpdate
from rollout.platforms.aws.stack_rollback import StackRollback, rollback_stack
from rollout.platforms.aws.traffic_guard import FakeTrafficGuard
from shipyard.config.load import StackSources, load_stack
from shipyard.config.model import Color
from shipyard.config.record import record_live
from shipyard.errors import CheckFailed, UsageError
from tests.conftest import copy_project, snapshot

ENV = "prod"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def set_web_count(sources: StackSources, count: int) -> None:
    overlay = sources.overlay(ENV)
    text = overlay.read_text(encoding="utf-8")
    overlay.write_text(text.replace("desiredCount: 4", f"desiredCount: {count}"), "utf-8")


@pytest.fixture
def repo(tmp_path: Path) -> tuple[StackSources, list[str]]:
    sources = copy_project(tmp_path / "repo")
    root = sources.root
    for package in ("shipyard", "components"):  # the program's own code, per commit
        (root / package).mkdir()
        (root / package / "__init__.py").write_text('COMMIT = "first"\n')
    git(root, "init", "-q")
    git(root, "config", "user.email", "ci@example.com")
    git(root, "config", "user.name", "ci")
    heads = []
    for count in (4, 6):
        set_web_count(sources, count)
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", f"web at {count}")
        heads.append(git(root, "rev-parse", "HEAD"))
        (root / "shipyard" / "__init__.py").write_text('COMMIT = "second"\n')
    # A rollout since: web live on green at v8, written back (not committed yet).
    record_live(sources, ENV, "web", Color.GREEN, {Color.BLUE: "v7", Color.GREEN: "v8"})
    return sources, heads


def history(heads: list[str]) -> list[StackUpdate]:
    """Newest first, as a self-managed backend reports it: version 0 everywhere."""
    return [
        StackUpdate(0, "update", "succeeded", heads[1], started="2026-11-30T10:00:00"),
        StackUpdate(0, "update", "succeeded", heads[1], git_dirty=True),
        StackUpdate(0, "update", "failed", heads[0]),
        StackUpdate(0, "refresh", "succeeded", heads[0]),
        StackUpdate(
            0, "update", "succeeded", heads[0], config={"aws:region": ("us-east-1", False)}
        ),
    ]


def worktrees(root: Path) -> list[str]:
    return git(root, "worktree", "list").splitlines()


def run(
    sources: StackSources,
    engine: FakeEngine,
    ledger: SqliteLedger,
    version: int,
    guard: FakeTrafficGuard | None = None,
    dry_run: bool = False,
) -> object:
    request = StackRollback(ENV, version, "ana@example.com", dry_run=dry_run)
    return rollback_stack(request, sources, engine, ledger, lambda: guard or FakeTrafficGuard())


@pytest.fixture
def ledger(tmp_path: Path) -> SqliteLedger:
    return SqliteLedger(tmp_path / "ledger.db")


def web(sources: StackSources) -> tuple[int, Color, str | None, str | None]:
    service = next(s for s in load_stack(sources, ENV).config.services if s.name == "web")
    return (
        service.desired_count,
        service.active_color,
        service.versions.of(Color.BLUE),
        service.versions.of(Color.GREEN),
    )


def test_the_oldest_update_is_number_1_and_its_commit_is_upped_in_a_worktree(
    repo: tuple[StackSources, list[str]], ledger: SqliteLedger
) -> None:
    sources, heads = repo
    engine = FakeEngine(history(heads))
    result = run(sources, engine, ledger, 1)
    assert [call for call, _ in engine.calls] == ["set_config", "refresh", "up"]
    assert len({folder for _, folder in engine.calls}) == 1  # all in one worktree
    worktree = Path(engine.calls[0][1])
    assert worktree != sources.root
    assert ".venv" in engine.seen_files[0]  # made before Pulumi runs
    assert result.to_dict()["git_head"] == heads[0]  # type: ignore[attr-defined]
    assert len(worktrees(sources.root)) == 1 and not worktree.exists()
    assert ledger.lock(ENV) is None  # released


def test_the_worktree_venv_imports_the_worktrees_own_code(
    repo: tuple[StackSources, list[str]], ledger: SqliteLedger
) -> None:
    sources, heads = repo
    seen: list[str] = []

    def imports(work_dir: Path) -> None:
        code = (
            "import shipyard, components, pulumi, pulumi_aws; "
            "print(shipyard.__file__); print(components.__file__); print(shipyard.COMMIT)"
        )
        found = subprocess.run(
            [str(work_dir / ".venv" / "bin" / "python"), "-c", code],
            capture_output=True, text=True, check=True, cwd="/",
        )  # fmt: skip
        seen.extend([str(work_dir.resolve()), *found.stdout.split()])
        listed = subprocess.run(  # how Pulumi's language host finds the program's plugins
            [str(work_dir / ".venv" / "bin" / "python"), "-m", "pip", "list", "--format", "json"],
            capture_output=True, text=True, check=True, cwd="/",
        )  # fmt: skip
        names = {p["name"].replace("-", "_").lower() for p in json.loads(listed.stdout)}
        assert {"pulumi", "pulumi_aws"} <= names

    run(sources, FakeEngine(history(heads), on_up=imports), ledger, 1)
    worktree, shipyard_file, components_file, commit = seen
    assert shipyard_file == f"{worktree}/shipyard/__init__.py"
    assert components_file == f"{worktree}/components/__init__.py"
    assert commit == "first"  # update 1's commit, not the working tree's (second)
    assert sys.prefix not in shipyard_file


def test_the_write_back_keeps_the_restored_config_and_the_live_colors(
    repo: tuple[StackSources, list[str]], ledger: SqliteLedger
) -> None:
    sources, heads = repo
    assert web(sources) == (6, Color.GREEN, "v7", "v8")
    result = run(sources, FakeEngine(history(heads)), ledger, 1)
    assert web(sources) == (4, Color.GREEN, "v7", "v8")  # update 1's count, today's colors
    assert result.files == ["stacks/prod.yaml", "Pulumi.prod.yaml"]  # type: ignore[attr-defined]
    stack_file = yaml.safe_load(sources.pulumi_stack_file(ENV).read_text())
    [rendered] = [s for s in stack_file["config"]["shipyard:services"] if s["name"] == "web"]
    assert (rendered["desiredCount"], rendered["activeColor"]) == (4, "green")
    assert rendered["versions"] == {"blue": "v7", "green": "v8"}
    changed = git(sources.root, "status", "--porcelain").split()
    assert "stacks/prod.yaml" in changed and "Pulumi.prod.yaml" in changed


def test_the_result_is_in_the_ledger_with_the_update_head_and_actor(
    repo: tuple[StackSources, list[str]], ledger: SqliteLedger
) -> None:
    sources, heads = repo
    guard = FakeTrafficGuard(lines=["web: green 100% ... moved to blue"])
    run(sources, FakeEngine(history(heads)), ledger, 1, guard)
    [event] = [e for e in ledger.events(ENV) if e.kind == "stack-rollback"]
    assert event.actor == "ana@example.com"
    assert event.data["status"] == "succeeded"
    assert (event.data["version"], event.data["numbering"]) == (1, "position")
    assert event.data["git_head"] == heads[0]
    assert event.data["head"] == git(sources.root, "rev-parse", "HEAD")
    assert event.data["traffic"] == ["web: green 100% ... moved to blue"]
    assert guard.asked == [["web", "api"]]


def test_the_lock_is_held_throughout_and_a_held_lock_stops_it_before_anything(
    repo: tuple[StackSources, list[str]], ledger: SqliteLedger
) -> None:
    sources, heads = repo
    holders: list[str | None] = []

    def during(work_dir: Path) -> None:
        lock = ledger.lock(ENV)
        holders.append(lock.holder if lock else None)
        with pytest.raises(LockHeld):
            ledger.acquire(ENV, "a rollout")  # nothing else may start meanwhile

    run(sources, FakeEngine(history(heads), on_up=during), ledger, 1)
    assert holders == ["ana@example.com rolling the stack back to update 1"]
    held = ledger.acquire(ENV, "bob deploying web@v9")
    engine, files = FakeEngine(history(heads)), snapshot(sources.root)
    with pytest.raises(LockHeld, match="bob deploying"):
        run(sources, engine, ledger, 1)
    assert engine.calls == [] and snapshot(sources.root) == files
    ledger.release(held)


@pytest.mark.parametrize(
    ("version", "error", "message"),
    [
        (4, CheckFailed, "uncommitted changes (git.dirty)"),
        (3, UsageError, "--stack-version 3 is a failed update"),
        (2, UsageError, "--stack-version 2 is a succeeded refresh"),
        (9, UsageError, "--stack-version 9 is not in the stack's history"),
    ],
)
def test_refused_updates_name_the_choices_and_change_nothing(
    repo: tuple[StackSources, list[str]],
    ledger: SqliteLedger,
    version: int,
    error: type[Exception],
    message: str,
) -> None:
    sources, heads = repo
    engine, files = FakeEngine(history(heads)), snapshot(sources.root)
    with pytest.raises(error) as refused:
        run(sources, engine, ledger, version)
    text = str(refused.value)
    assert message in text
    assert f"5 ({heads[1][:12]}, 2026-11-30T10:00:00), 4 ({heads[1][:12]}, dirty)" in text
    assert f"1 ({heads[0][:12]})" in text and "numbered by position, 1 = oldest" in text
    assert engine.calls == [] and ledger.events(ENV) == [] and ledger.lock(ENV) is None
    assert snapshot(sources.root) == files and len(worktrees(sources.root)) == 1


def test_pulumi_cloud_numbers_are_used_as_they_are(
    repo: tuple[StackSources, list[str]], ledger: SqliteLedger
) -> None:
    sources, heads = repo
    updates = [StackUpdate(41, "update", "succeeded", heads[1]),
               StackUpdate(40, "update", "succeeded", heads[0])]  # fmt: skip
    result = run(sources, FakeEngine(updates), ledger, 40)
    assert result.to_dict()["git_head"] == heads[0]  # type: ignore[attr-defined]
    with pytest.raises(UsageError, match="--stack-version 1 is not in.*Pulumi's version numbers"):
        run(sources, FakeEngine(updates), ledger, 1)


@pytest.mark.parametrize("failure", ["up", "guard"])
def test_a_failure_removes_the_worktree_records_it_and_writes_nothing(
    repo: tuple[StackSources, list[str]], ledger: SqliteLedger, failure: str
) -> None:
    sources, heads = repo
    engine = FakeEngine(history(heads), fail_up=failure == "up")
    guard = FakeTrafficGuard(error="web: no color runs tasks" if failure == "guard" else None)
    files = snapshot(sources.root)
    with pytest.raises((RuntimeError, CheckFailed)):
        run(sources, engine, ledger, 1, guard)
    assert len(worktrees(sources.root)) == 1 and not Path(engine.calls[-1][1]).exists()
    [event] = ledger.events(ENV)
    assert event.data["status"] == "failed"
    assert event.data["message"] in ("pulumi up failed", "web: no color runs tasks")
    assert ledger.lock(ENV) is None
    assert snapshot(sources.root) == files


def test_dry_run_says_what_it_would_do_and_does_nothing(
    repo: tuple[StackSources, list[str]], ledger: SqliteLedger
) -> None:
    sources, heads = repo
    engine, files = FakeEngine(history(heads)), snapshot(sources.root)
    result = run(sources, engine, ledger, 1, dry_run=True)
    assert result.to_dict() == {  # type: ignore[attr-defined]
        "environment": ENV,
        "status": "planned",
        "version": 1,
        "numbering": "position",
        "git_head": heads[0],
        "started": None,
        "head": git(sources.root, "rev-parse", "HEAD"),
        "files": ["stacks/prod.yaml", "Pulumi.prod.yaml"],
        "traffic": [],
        "message": "",
    }
    assert engine.calls == [] and ledger.events(ENV) == [] and ledger.lock(ENV) is None
    assert snapshot(sources.root) == files and len(worktrees(sources.root)) == 1


@pytest.mark.parametrize("dry_run", [False, True], ids=["run", "dry-run"])
def test_a_commit_whose_pulumi_yaml_names_no_virtualenv_is_refused_before_anything(
    repo: tuple[StackSources, list[str]], ledger: SqliteLedger, dry_run: bool
) -> None:
    sources, heads = repo
    (sources.root / "Pulumi.yaml").write_text("name: shipyard\nruntime: python\n")
    git(sources.root, "commit", "-qam", "no virtualenv")
    updates = [StackUpdate(0, "update", "succeeded", git(sources.root, "rev-parse", "HEAD"))]
    engine = FakeEngine(updates)
    with pytest.raises(UsageError, match="runtime.options.virtualenv is not set"):
        run(sources, engine, ledger, 1, dry_run=dry_run)
    # Read from git before the lock: no worktree, no lock, nothing in the ledger.
    assert engine.calls == [] and len(worktrees(sources.root)) == 1
    assert ledger.events(ENV) == []


def test_a_commit_this_checkout_does_not_have_is_refused_before_anything(
    repo: tuple[StackSources, list[str]], ledger: SqliteLedger
) -> None:
    sources, heads = repo
    engine = FakeEngine([StackUpdate(0, "update", "succeeded", "0" * 40)])
    with pytest.raises(CheckFailed, match="which this checkout does not have"):
        run(sources, engine, ledger, 1, dry_run=True)
    assert engine.calls == [] and ledger.events(ENV) == []


def test_the_guard_checks_the_services_the_earlier_commit_runs(
    repo: tuple[StackSources, list[str]], ledger: SqliteLedger
) -> None:
    """A service added since update N is gone after its `up` (nothing to check, no output to
    read); the services N runs are checked, with today's live colors."""
    sources, heads = repo
    overlay = sources.overlay(ENV)
    text = overlay.read_text(encoding="utf-8")
    jobs = (
        "  - name: jobs\n    image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/jobs\n"
        "    containerPort: 8080\n    testPort: 9002\n    versions: {blue: v1, green: v1}\n"
    )
    overlay.write_text(text.replace("services:\n", "services:\n" + jobs, 1), encoding="utf-8")
    assert "jobs" in [s.name for s in load_stack(sources, ENV).config.services]
    guard = FakeTrafficGuard()
    run(sources, FakeEngine(history(heads)), ledger, 1, guard)
    assert guard.asked == [["web", "api"]]


def test_a_refused_write_back_after_a_good_up_is_recorded_as_redeployed(
    repo: tuple[StackSources, list[str]], ledger: SqliteLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rollout.platforms.aws.stack_rollback as module

    def refuse(*args: object) -> list[str]:
        raise CheckFailed("the stack is redeployed, but writing its config back was refused")

    monkeypatch.setattr(module, "_write_back", refuse)
    sources, heads = repo
    engine = FakeEngine(history(heads))
    with pytest.raises(CheckFailed, match="writing its config back was refused"):
        run(sources, engine, ledger, 1)
    assert "up" in [call for call, _ in engine.calls]
    [event] = [e for e in ledger.events(ENV) if e.kind == "stack-rollback"]
    assert event.data["status"] == "redeployed"  # the stack is as update 1 left it


@pytest.mark.parametrize("head", ["--output=/tmp/x", "HEAD", "main", "abc", "A" * 40])
def test_a_git_head_that_is_not_a_commit_id_never_reaches_git(
    repo: tuple[StackSources, list[str]], ledger: SqliteLedger, tmp_path: Path, head: str
) -> None:
    sources, _ = repo
    files = snapshot(sources.root)
    engine = FakeEngine([StackUpdate(0, "update", "succeeded", head)])
    for dry_run in (True, False):
        with pytest.raises(CheckFailed, match="not a commit id"):
            run(sources, engine, ledger, 1, dry_run=dry_run)
    assert engine.calls == [] and ledger.events(ENV) == []
    assert snapshot(sources.root) == files and not (tmp_path / "x:Pulumi.yaml").exists()
