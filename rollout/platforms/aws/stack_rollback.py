"""Redeploy a stack as an earlier Pulumi update left it (`shipyard rollback ENV --stack-version N`).

Pulumi has no rollback command (pulumi/pulumi#96). The honest one: take an earlier successful
update from the stack's history, check out the commit it was made from (`git.head`) in a
temporary worktree, give it a Python environment Pulumi can run (worktree_python.py), set the
config it recorded, refresh, and `up` from there. Then production traffic is checked to be on
colors with running tasks (traffic_guard.py), the old commit's stack config is written back
into the working tree with the live colors and versions kept, and the result goes into the
ledger, failed or not. All of it under the environment's lock, so no rollout runs meanwhile;
the worktree goes away afterwards, also when a step fails.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rollout.ledger import Ledger
from rollout.platforms.aws.engine import Engine, StackUpdate
from rollout.platforms.aws.stack_history import choose_update, numbered
from rollout.platforms.aws.traffic_guard import TrafficGuard
from rollout.platforms.aws.worktree_python import check_project, prepare_python
from shipyard.config.load import StackSources, load_stack
from shipyard.config.model import Color, Service
from shipyard.config.record import record_live
from shipyard.errors import CheckFailed, ShipyardError
from shipyard.stacks import plan_stack_files, write_stack_files

Run = Callable[..., subprocess.CompletedProcess[str]]
COMMIT_ID = re.compile(r"[0-9a-f]{7,40}")  # what `pulumi up` records: the full SHA-1
Guard = Callable[[], TrafficGuard]  # built after `up`: the stack's outputs may have changed


@dataclass(frozen=True)
class StackRollback:
    environment: str
    version: int
    actor: str
    dry_run: bool = False


@dataclass(frozen=True)
class StackRollbackResult:
    environment: str
    update: StackUpdate
    numbering: str
    head: str | None  # the working tree's commit when this ran
    status: str  # planned | succeeded | redeployed (up done, write-back refused) | failed
    files: list[str] = field(default_factory=list)
    traffic: list[str] = field(default_factory=list)
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "status": self.status,
            "version": self.update.version,
            "numbering": self.numbering,
            "git_head": self.update.git_head,
            "started": self.update.started,
            "head": self.head,
            "files": self.files,
            "traffic": self.traffic,
            "message": self.message,
        }


def _git(run: Run, repository: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run(["git", "-C", str(repository), *args], capture_output=True, text=True, check=False)


def _head(run: Run, repository: Path) -> str | None:
    found = _git(run, repository, "rev-parse", "HEAD")
    if found.returncode != 0:
        return None
    return found.stdout.strip() or None


def _write_back(sources: StackSources, environment: str, worktree: Path) -> list[str]:
    """The earlier commit's stacks/ENV.yaml, with the live colors and versions shipyard set
    kept; Pulumi.ENV.yaml rendered from it. On a refusal both files are as they were."""
    live = {s.name: s for s in load_stack(sources, environment).config.services}
    overlay, stack_file = sources.overlay(environment), sources.pulumi_stack_file(environment)
    before = {p: p.read_bytes() if p.is_file() else None for p in (overlay, stack_file)}
    earlier = worktree / overlay.relative_to(sources.root)
    try:
        if earlier.is_file():
            overlay.write_bytes(earlier.read_bytes())
        for service in load_stack(sources, environment).config.services:
            now: Service | None = live.get(service.name)
            if now is not None:
                versions = {c: now.versions.of(c) for c in Color}
                record_live(sources, environment, service.name, now.active_color, versions)
        write_stack_files(sources, plan_stack_files(sources, [environment]))
    except ShipyardError as exc:
        for path, content in before.items():
            if content is None:
                path.unlink(missing_ok=True)
            else:
                path.write_bytes(content)
        raise CheckFailed(
            f"the stack is redeployed, but writing its config back was refused ({exc}); "
            f"{sources.rel(overlay)} and {sources.rel(stack_file)} are unchanged"
        ) from None
    return [
        sources.rel(path)
        for path, content in before.items()
        if (path.read_bytes() if path.is_file() else None) != content
    ]


def _services_after(sources: StackSources, environment: str, worktree: Path) -> list[Service]:
    """The services the earlier commit's program runs (its stack config, with today's live
    colors where a service exists today): what the traffic guard checks after its `up`. A
    service added since that commit no longer exists; one it had is checked too."""
    today = {s.name: s for s in load_stack(sources, environment).config.services}
    try:
        earlier = load_stack(StackSources(worktree), environment).config.services
    except ShipyardError:
        return list(today.values())  # not readable by today's shipyard: judge by today's list
    return [today.get(s.name, s) for s in earlier]


def _check_commit(run: Run, sources: StackSources, update: StackUpdate) -> None:
    """Before anything happens (also for --dry-run): the commit is here, and its Pulumi.yaml
    names a Python environment shipyard can prepare."""
    assert update.git_head is not None
    if not COMMIT_ID.fullmatch(update.git_head):
        # The history is the backend's word, not shipyard's: a branch name (today's commit,
        # not the update's) or an option (`--output=...`) must never reach git.
        raise CheckFailed(
            f"update {update.version} recorded git.head {update.git_head!r}, not a commit id: "
            "it cannot be checked out as it was; choose another update"
        )
    shown = _git(run, sources.root, "show", f"{update.git_head}:Pulumi.yaml")
    if shown.returncode != 0:
        raise CheckFailed(
            f"update {update.version} was made from commit {update.git_head}, which this "
            f"checkout does not have ({shown.stderr.strip()}): `git fetch` it (CI: "
            "fetch-depth: 0), or choose another update"
        )
    check_project(shown.stdout, update.git_head)


def _redeploy(
    engine: Engine, sources: StackSources, environment: str, update: StackUpdate, worktree: Path
) -> None:
    assert update.git_head is not None
    prepare_python(worktree, update.git_head)
    engine.set_config(environment, worktree, update.config)
    engine.refresh(environment, worktree)
    engine.up(environment, worktree)


def rollback_stack(
    request: StackRollback,
    sources: StackSources,
    engine: Engine,
    ledger: Ledger,
    guard: Guard,
    run: Run = subprocess.run,
) -> StackRollbackResult:
    """Redeploy the stack as update `version` left it; the worktree always goes."""
    env = request.environment
    updates, numbering = numbered(engine.history(env))
    update = choose_update(updates, request.version, numbering)
    head = _head(run, sources.root)
    files = [sources.rel(sources.overlay(env)), sources.rel(sources.pulumi_stack_file(env))]
    result = StackRollbackResult(env, update, numbering, head, "planned", files)
    _check_commit(run, sources, update)
    if request.dry_run:
        return result
    lock = ledger.acquire(env, f"{request.actor} rolling the stack back to update {update.version}")
    worktree = Path(tempfile.mkdtemp(prefix=f"shipyard-{env}-v{update.version}-"))
    worktree.rmdir()  # git creates it
    try:
        try:
            added = _git(run, sources.root, "worktree", "add", "--detach", str(worktree),
                         str(update.git_head))  # fmt: skip
            if added.returncode != 0:
                raise CheckFailed(
                    f"cannot check out {update.git_head} for update {update.version}: "
                    f"{added.stderr.strip()}"
                )
            _redeploy(engine, sources, env, update, worktree)
            traffic = guard().settle(_services_after(sources, env, worktree))
            redeployed = f"redeployed as update {update.version} ({update.git_head})"
            result = StackRollbackResult(
                env, update, numbering, head, "redeployed", [], traffic, redeployed
            )
            written = _write_back(sources, env, worktree)
            result = StackRollbackResult(
                env, update, numbering, head, "succeeded", written, traffic, redeployed
            )
        except Exception as exc:
            # After a successful `up` and guard, a refused write-back is "redeployed": the
            # stack is as update N left it, only the files did not follow.
            status = "redeployed" if result.status == "redeployed" else "failed"
            result = StackRollbackResult(
                env, update, numbering, head, status, result.files, result.traffic,
                str(exc) or type(exc).__name__,
            )  # fmt: skip
            raise
        finally:
            ledger.append(env, "stack-rollback", result.to_dict(), actor=request.actor)
    finally:
        _git(run, sources.root, "worktree", "remove", "--force", str(worktree))
        shutil.rmtree(worktree, ignore_errors=True)
        _git(run, sources.root, "worktree", "prune")  # when `remove` could not
        ledger.release(lock)
    return result
