"""Pieces several commands share."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click

from shipyard.config.load import StackSources
from shipyard.errors import UsageError
from shipyard.project import find_project

F = TypeVar("F", bound=Callable[..., Any])


@contextlib.contextmanager
def short_lived_heap() -> Iterator[None]:
    """For a command that renders stacks and then exits: no collector passes at all.

    Between renders and at interpreter shutdown the collector would walk every object the
    renders left behind (over a second for 3 stacks x 10 services); the process is about to
    end, so freeze the heap instead. Long-running commands must not use this.
    """
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def sources_from(ctx: click.Context) -> StackSources:
    return find_project(ctx.obj.get("project_dir") if ctx.obj else None)


def project_root(ctx: click.Context) -> Path | None:
    """The project's root, for a command that also works outside one; None there."""
    try:
        return sources_from(ctx).root
    except UsageError:
        return None


def format_option(*choices: str, default: str = "text") -> Callable[[F], F]:
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(choices),
        default=default,
        show_default=True,
        help="Output format; json is stable for scripts.",
    )
