"""Pieces several commands share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from shipyard.config.load import StackSources
from shipyard.project import find_project

F = TypeVar("F", bound=Callable[..., Any])


def sources_from(ctx: click.Context) -> StackSources:
    return find_project(ctx.obj.get("project_dir") if ctx.obj else None)


def format_option(*choices: str, default: str = "text") -> Callable[[F], F]:
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(choices),
        default=default,
        show_default=True,
        help="Output format; json is stable for scripts.",
    )
