"""The Pulumi engine behind a narrow interface, and rollback to an earlier stack version.

Pulumi has no rollback command. The honest one: take an earlier successful update from the
stack's history, check out the commit it was made from (`git.head`) in a temporary worktree,
set the config it recorded, refresh, and `up` from there. The worktree goes away afterwards,
also when the update fails. An update made from a dirty tree cannot be reproduced: refused.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from shipyard.errors import CheckFailed, UsageError


@dataclass(frozen=True)
class StackUpdate:
    version: int
    kind: str
    result: str
    git_head: str | None = None
    git_dirty: bool = False
    config: dict[str, tuple[str, bool]] = field(default_factory=dict)  # key -> (value, secret)


class Engine(Protocol):
    def history(self, stack: str) -> list[StackUpdate]: ...

    def outputs(self, stack: str) -> dict[str, Any]: ...

    def preview(self, stack: str, work_dir: Path) -> dict[str, int]: ...

    def set_config(
        self, stack: str, work_dir: Path, config: dict[str, tuple[str, bool]]
    ) -> None: ...

    def refresh(self, stack: str, work_dir: Path) -> None: ...

    def up(self, stack: str, work_dir: Path) -> None: ...


@dataclass
class FakeEngine:
    """History given by the test; every call recorded with the folder it ran in."""

    updates: list[StackUpdate]
    fail_up: bool = False
    stack_outputs: dict[str, Any] = field(default_factory=dict)
    changes: dict[str, int] = field(default_factory=lambda: {"same": 1})
    calls: list[tuple[str, str]] = field(default_factory=list)
    seen_files: list[list[str]] = field(default_factory=list)

    def history(self, stack: str) -> list[StackUpdate]:
        return list(self.updates)

    def outputs(self, stack: str) -> dict[str, Any]:
        return dict(self.stack_outputs)

    def preview(self, stack: str, work_dir: Path) -> dict[str, int]:
        self.calls.append(("preview", str(work_dir)))
        return dict(self.changes)

    def set_config(self, stack: str, work_dir: Path, config: dict[str, tuple[str, bool]]) -> None:
        self.calls.append(("set_config", str(work_dir)))

    def refresh(self, stack: str, work_dir: Path) -> None:
        self.calls.append(("refresh", str(work_dir)))

    def up(self, stack: str, work_dir: Path) -> None:
        self.calls.append(("up", str(work_dir)))
        self.seen_files.append(sorted(p.name for p in work_dir.iterdir()))
        if self.fail_up:
            raise RuntimeError("pulumi up failed")


class AutomationEngine:
    """The real engine: Pulumi's Automation API, which needs the `pulumi` binary."""

    def __init__(self, project: Path) -> None:
        self.project = project
        if shutil.which("pulumi") is None:
            raise UsageError(
                "this needs the Pulumi CLI on PATH (https://www.pulumi.com/docs/"
                "install/); everything else in shipyard works without it"
            )
        from pulumi import automation

        self.automation: Any = automation

    def _stack(self, stack: str, work_dir: Path) -> Any:
        return self.automation.select_stack(stack_name=stack, work_dir=str(work_dir))

    def history(self, stack: str) -> list[StackUpdate]:
        updates = self._stack(stack, self.project).history(show_secrets=True)
        return [
            StackUpdate(
                version=u.version or 0,
                kind=u.kind,
                result=u.result,
                git_head=(u.environment or {}).get("git.head"),
                git_dirty=str((u.environment or {}).get("git.dirty", "false")).lower() == "true",
                config={k: (v.value, v.secret) for k, v in (u.config or {}).items()},
            )
            for u in updates
        ]

    def outputs(self, stack: str) -> dict[str, Any]:
        found = self._stack(stack, self.project).outputs()
        return {key: output.value for key, output in found.items()}

    def preview(self, stack: str, work_dir: Path) -> dict[str, int]:
        """Operation counts (`same`, `update`, `create`, ...): no changes is only `same`."""
        result = self._stack(stack, work_dir).preview(on_output=print)
        return {str(kind): int(count) for kind, count in (result.change_summary or {}).items()}

    def set_config(self, stack: str, work_dir: Path, config: dict[str, tuple[str, bool]]) -> None:
        values = {k: self.automation.ConfigValue(value=v, secret=s) for k, (v, s) in config.items()}
        self._stack(stack, work_dir).set_all_config(values)

    def refresh(self, stack: str, work_dir: Path) -> None:
        self._stack(stack, work_dir).refresh(on_output=print)

    def up(self, stack: str, work_dir: Path) -> None:
        self._stack(stack, work_dir).up(on_output=print)


Run = Callable[..., subprocess.CompletedProcess[str]]


def choose_update(updates: list[StackUpdate], version: int) -> StackUpdate:
    good = [u for u in updates if u.kind == "update" and u.result == "succeeded"]
    chosen = next((u for u in good if u.version == version), None)
    if chosen is None:
        listed = ", ".join(str(u.version) for u in sorted(good, key=lambda u: -u.version)[:10])
        raise CheckFailed(
            f"no successful update {version} in the stack's history "
            f"(successful updates: {listed or 'none'})"
        )
    if chosen.git_dirty:
        raise CheckFailed(
            f"update {version} was made from a tree with uncommitted changes "
            "(git.dirty): it cannot be reproduced; choose another version"
        )
    if not chosen.git_head:
        raise CheckFailed(f"update {version} recorded no git.head: nothing to check out")
    return chosen


def rollback_to_stack_version(
    engine: Engine, repository: Path, stack: str, version: int, run: Run = subprocess.run
) -> StackUpdate:
    """Redeploy the stack as update `version` left it; the temporary worktree always goes."""
    update = choose_update(engine.history(stack), version)
    worktree = Path(tempfile.mkdtemp(prefix=f"shipyard-{stack}-v{version}-"))
    worktree.rmdir()  # git creates it
    git = ["git", "-C", str(repository)]
    added = run(
        [*git, "worktree", "add", "--detach", str(worktree), str(update.git_head)],
        capture_output=True,
        text=True,
        check=False,
    )
    if added.returncode != 0:
        raise CheckFailed(
            f"cannot check out {update.git_head} for update {version}: {added.stderr.strip()}"
        )
    try:
        engine.set_config(stack, worktree, update.config)
        engine.refresh(stack, worktree)
        engine.up(stack, worktree)
    finally:
        run(
            [*git, "worktree", "remove", "--force", str(worktree)],
            capture_output=True,
            text=True,
            check=False,
        )
        shutil.rmtree(worktree, ignore_errors=True)
    return update
