"""What a version is in a color's task definition: the one rule the Pulumi program and the ECS
fleet share.

A color running version V means, in its task definition: the app container's image is
`<repository>:V`, its environment has SHIPYARD_VERSION=V and SHIPYARD_COLOR=<color>, and the
task definition's tags have `shipyard:version` = V and `shipyard:color` = <color>. The program
applies `with_version` to the container it builds; the fleet applies it to the revision it
describes before it registers the next one. Anything new that carries the version goes here, and
both follow. No Pulumi here: the fleet imports it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shipyard.config.model import Color

VERSION_VARIABLE = "SHIPYARD_VERSION"
COLOR_VARIABLE = "SHIPYARD_COLOR"
VERSION_TAG = "shipyard:version"
COLOR_TAG = "shipyard:color"


@dataclass(frozen=True)
class Revision:
    """The app container (by name) of a color's task definition, at a version."""

    container: str
    color: Color
    version: str


def repository_of(image: str) -> str:
    """The image reference without its tag or digest (`host:5000/app:v1` -> `host:5000/app`).

    Docker's reference grammar: a tag follows the last ':' after the last '/', a digest '@'.
    https://github.com/distribution/reference/blob/main/reference.go
    """
    name = image.split("@", 1)[0]
    slash, colon = name.rfind("/"), name.rfind(":")
    return name[:colon] if colon > slash else name


def tag_of(image: str) -> str | None:
    """The image's tag, or None for an untagged (or digest-only) reference."""
    repository = repository_of(image)
    rest = image.split("@", 1)[0][len(repository) :]
    return rest[1:] if rest.startswith(":") else None


def with_version(
    containers: Sequence[Mapping[str, Any]], tags: Mapping[str, str], revision: Revision
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The container definitions and the task definition's tags at `revision`."""
    return containers_at(containers, revision), tags_at(tags, revision)


def containers_at(
    containers: Sequence[Mapping[str, Any]], revision: Revision
) -> list[dict[str, Any]]:
    """The app container's image tag and SHIPYARD_* variables at `revision`; everything else
    (other containers included) kept as it is. The environment comes back sorted by name."""
    if not any(c.get("name") == revision.container for c in containers):
        names = ", ".join(str(c.get("name")) for c in containers) or "none"
        raise ValueError(f"no container named {revision.container!r} (containers: {names})")
    versioned = []
    for container in containers:
        if container.get("name") != revision.container:
            versioned.append(dict(container))
            continue
        environment = {e["name"]: e["value"] for e in container.get("environment", [])}
        environment[COLOR_VARIABLE] = revision.color.value
        environment[VERSION_VARIABLE] = revision.version
        versioned.append(
            {
                **container,
                "image": f"{repository_of(str(container['image']))}:{revision.version}",
                "environment": [{"name": k, "value": v} for k, v in sorted(environment.items())],
            }
        )
    return versioned


def tags_at(tags: Mapping[str, str], revision: Revision) -> dict[str, str]:
    """The task definition's tags with the color and version tags at `revision`, sorted."""
    return dict(
        sorted({**tags, COLOR_TAG: revision.color.value, VERSION_TAG: revision.version}.items())
    )


def version_in(containers: Sequence[Mapping[str, Any]], container: str) -> str | None:
    """The version a task definition runs: its app container's image tag."""
    for definition in containers:
        if definition.get("name") == container:
            return tag_of(str(definition.get("image", "")))
    return None
