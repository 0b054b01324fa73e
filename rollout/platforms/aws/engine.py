"""The Pulumi engine behind a narrow interface (the Automation API), and its fake.

Rollback to an earlier stack version, which drives it, is in `stack_rollback.py`.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from shipyard.errors import CheckFailed, UsageError

HISTORY_PAGE = 100


@dataclass(frozen=True)
class StackUpdate:
    version: int
    kind: str
    result: str
    git_head: str | None = None
    git_dirty: bool = False
    config: dict[str, tuple[str, bool]] = field(default_factory=dict)  # key -> (value, secret)
    started: str | None = None  # ISO 8601


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
    on_up: Callable[[Path], None] | None = None  # looks at the folder `up` runs in

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
        if self.on_up is not None:
            self.on_up(work_dir)
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
        with self._said(stack, "select"):
            return self.automation.select_stack(stack_name=stack, work_dir=str(work_dir))

    @contextlib.contextmanager
    def _said(self, stack: str, action: str) -> Iterator[None]:
        """A failed Pulumi command as one line: what failed and Pulumi's own last word
        (a missing stack, no login, a failed update), never the Automation API's traceback."""
        try:
            yield
        except self.automation.errors.CommandError as exc:
            text = str(exc)
            said = [line.strip() for line in text.split("stderr:", 1)[-1].splitlines()]
            last = next((line for line in reversed(said) if line), type(exc).__name__)
            if isinstance(exc, self.automation.errors.StackNotFoundError):
                raise CheckFailed(
                    f"pulumi has no stack {stack!r} here ({last}): log in to its backend "
                    f"(`pulumi login`) and check `pulumi stack ls`"
                ) from None
            raise CheckFailed(f"pulumi {action} -s {stack} failed: {last}") from None

    def history(self, stack: str) -> list[StackUpdate]:
        """Every update, newest first. Page by page: without --page-size the CLI returns only
        the newest 10 (pkg/cmd/pulumi/stack/stack_history.go, `page-size` default 10), and
        numbering by position on a self-managed backend needs all of them."""
        found = self._stack(stack, self.project)
        updates: list[Any] = []
        while True:
            with self._said(stack, "stack history"):
                page = found.history(
                    page_size=HISTORY_PAGE,
                    page=len(updates) // HISTORY_PAGE + 1,
                    show_secrets=True,
                )
            updates.extend(page)
            if len(page) < HISTORY_PAGE:
                break
        return [
            StackUpdate(
                version=u.version or 0,
                kind=u.kind,
                result=u.result,
                git_head=(u.environment or {}).get("git.head"),
                git_dirty=str((u.environment or {}).get("git.dirty", "false")).lower() == "true",
                config={k: (v.value, v.secret) for k, v in (u.config or {}).items()},
                started=u.start_time.isoformat() if u.start_time else None,
            )
            for u in updates
        ]

    def outputs(self, stack: str) -> dict[str, Any]:
        with self._said(stack, "stack output"):
            found = self._stack(stack, self.project).outputs()
        return {key: output.value for key, output in found.items()}

    def preview(self, stack: str, work_dir: Path) -> dict[str, int]:
        """Operation counts (`same`, `update`, `create`, ...): no changes is only `same`."""
        with self._said(stack, "preview"):
            result = self._stack(stack, work_dir).preview(on_output=print)
        return {str(kind): int(count) for kind, count in (result.change_summary or {}).items()}

    def set_config(self, stack: str, work_dir: Path, config: dict[str, tuple[str, bool]]) -> None:
        values = {k: self.automation.ConfigValue(value=v, secret=s) for k, (v, s) in config.items()}
        with self._said(stack, "config set-all"):
            self._stack(stack, work_dir).set_all_config(values)

    def refresh(self, stack: str, work_dir: Path) -> None:
        with self._said(stack, "refresh"):
            self._stack(stack, work_dir).refresh(on_output=print)

    def up(self, stack: str, work_dir: Path) -> None:
        with self._said(stack, "up"):
            self._stack(stack, work_dir).up(on_output=print)
