"""How commands talk: rich on a terminal, plain lines otherwise, JSON on request."""

from __future__ import annotations

import contextlib
import json
import re
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from shipyard.errors import UsageError

PLAIN_WIDTH = 120  # tables written to a pipe or file are not squeezed to 80 columns


def stdout() -> Console:
    # soft_wrap: a plain line is never broken (scripts grep it); tables still fit the width.
    console = Console(highlight=False, soft_wrap=True)
    if not console.is_terminal:
        console = Console(highlight=False, width=PLAIN_WIDTH, soft_wrap=True)
    return console


def stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def is_terminal() -> bool:
    return sys.stderr.isatty()


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True) + "\n")


# The project's own inputs, relative to its root: a report written over one of them would
# replace the stack sources, the Pulumi project or a stack file with its own text.
PROJECT_INPUTS = ("stacks/", "Pulumi.yaml", "Pulumi.<env>.yaml", "__main__.py")
_PULUMI_FILE = re.compile(r"Pulumi(\.[^/]+)?\.ya?ml")


def check_output(path: str, project: Path | None) -> None:
    """Refuse (exit 2) an --output path that is one of the project's inputs: anything under
    stacks/, Pulumi.yaml, a Pulumi.<env>.yaml, __main__.py; links are followed."""
    if project is None:
        return
    target = Path(path).resolve()
    root = project.resolve()
    inside_stacks = target.is_relative_to(root / "stacks")
    top_level = target.parent == root and (
        target.name == "__main__.py" or _PULUMI_FILE.fullmatch(target.name) is not None
    )
    if inside_stacks or top_level:
        raise UsageError(
            f"will not write {path}: it is {target.relative_to(root)}, one of the project's "
            f"inputs ({', '.join(PROJECT_INPUTS)}); give --output another file"
        )


def write_output(path: str, text: str, project: Path | None) -> None:
    """Write a command's --output file, never over one of the project's inputs (`project`:
    its root; None outside a project); a path that cannot be written is a one-line usage
    error (exit 2), not a traceback."""
    check_output(path, project)
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise UsageError(
            f"cannot write {path}: {reason}; give --output a file in a directory that exists "
            "and that you can write to"
        ) from None


def progress(message: str) -> None:
    """One progress line on stderr (stdout stays clean for data)."""
    stderr().print(message, markup=False)


def working(message: str) -> contextlib.AbstractContextManager[object]:
    """A spinner on stderr while a long step runs, on a terminal only."""
    if is_terminal():
        return stderr().status(message)
    return contextlib.nullcontext()


def warn(message: str) -> None:
    sys.stderr.write(f"warning: {message}\n")
