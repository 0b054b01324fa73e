"""Tiny rendered stacks written by hand, so expected scores can be worked out by hand."""

from __future__ import annotations

from typing import Any

from parity.normalise import NormalisedStack, normalise_stack
from parity.render import RenderedStack

ENVS = ["dev", "staging", "prod"]


def stack(
    env: str,
    resources: dict[str, dict[str, Any]],
    type_: str = "aws:x/y:Z",
    outputs: dict[str, Any] | None = None,
) -> RenderedStack:
    """A rendered stack with one resource per entry: {logical name: inputs}."""
    return RenderedStack(
        project="shipyard",
        stack=env,
        resources=[
            {"type": type_, "name": name, "parent": None, "inputs": inputs}
            for name, inputs in resources.items()
        ],
        outputs=outputs or {},
    )


def normalised(
    resources_by_env: dict[str, dict[str, dict[str, Any]]], envs: list[str] | None = None
) -> dict[str, NormalisedStack]:
    """Each environment's hand-written resources, normalised; `envs` are the names a value
    may mention (default: dev, staging, prod)."""
    names = envs or ENVS
    return {
        env: normalise_stack(stack(env, resources), names)
        for env, resources in resources_by_env.items()
    }
