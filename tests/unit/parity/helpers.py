"""Tiny rendered stacks written by hand, so expected scores can be worked out by hand."""

from __future__ import annotations

from typing import Any

from parity.render import RenderedStack


def stack(
    env: str, resources: dict[str, dict[str, Any]], type_: str = "aws:x/y:Z"
) -> RenderedStack:
    """A rendered stack with one resource per entry: {logical name: inputs}."""
    return RenderedStack(
        project="shipyard",
        stack=env,
        resources=[
            {"type": type_, "name": name, "parent": None, "inputs": inputs}
            for name, inputs in resources.items()
        ],
        outputs={},
    )
