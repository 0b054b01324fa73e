"""Tags on every resource, so drift detection and cost reports can tell what shipyard owns."""

from __future__ import annotations

from collections.abc import Mapping


def tagged(base: Mapping[str, str], name: str, **extra: str) -> dict[str, str]:
    """Base tags plus a Name and shipyard:* extras (keys given as snake_case)."""
    tags = dict(base)
    tags["Name"] = name
    for key, value in extra.items():
        tags[f"shipyard:{key.replace('_', '-')}"] = value
    return dict(sorted(tags.items()))
