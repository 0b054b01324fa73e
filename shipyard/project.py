"""Find the shipyard project a command works on."""

from __future__ import annotations

import os
from pathlib import Path

from shipyard.config.load import StackSources
from shipyard.errors import UsageError

PROJECT_ENV = "SHIPYARD_PROJECT_DIR"


def find_project(explicit: str | None = None, start: Path | None = None) -> StackSources:
    """--project-dir, else $SHIPYARD_PROJECT_DIR, else the nearest parent holding Pulumi.yaml
    and stacks/."""
    chosen = explicit or os.environ.get(PROJECT_ENV)
    if chosen:
        root = Path(chosen).resolve()
        if not _is_project(root):
            raise UsageError(
                f"{chosen}: not a shipyard project (needs Pulumi.yaml and stacks/); "
                "fix --project-dir or $SHIPYARD_PROJECT_DIR"
            )
        return StackSources(root)
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if _is_project(candidate):
            return StackSources(candidate)
    raise UsageError(
        f"no shipyard project at {here} or above (looked for Pulumi.yaml and stacks/); "
        "cd into the project or pass --project-dir"
    )


def _is_project(path: Path) -> bool:
    return (path / "Pulumi.yaml").is_file() and (path / "stacks").is_dir()
