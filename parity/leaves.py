"""A normalised tree's leaves and the settings they belong to.

A leaf is `<resource>.<property path>`; a multiset item is one leaf named by its whole content
(`ingress[cidrBlocks=["0.0.0.0/0"],fromPort=443,protocol=tcp,toPort=443]`). Every leaf belongs
to one *setting*, the unit the score counts (docs/parity.md): a resource's top-level property,
a section key of the stack config or outputs, or, for resource tags, the tag key across the
whole stack (`@tags.cost-center`).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from parity.normalise import NormalisedStack, Normaliser

TAGS_SETTING = "@tags"


def item_id(item: Any) -> str:
    """A multiset item named by its whole content: `[fromPort=443,protocol=tcp,...]`."""
    if isinstance(item, dict):
        return "[" + ",".join(f"{k}={_compact(v)}" for k, v in sorted(item.items())) + "]"
    return f"[{_compact(item)}]"


def _compact(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def join(path: str, key: str) -> str:
    return f"{path}{key}" if key.startswith("[") else f"{path}.{key}"


def setting_of(resource: str, segments: list[str], pseudo: bool) -> tuple[str, str]:
    """(the setting the score counts this leaf under, the setting within its resource)."""
    if not pseudo:
        own = join(resource, segments[0])
        if segments[0] == "tags" and len(segments) > 1:
            return join(TAGS_SETTING, segments[1]), own
        return own, own
    depth = 1
    if len(segments) > 1:
        depth = 3 if segments[1].startswith("[") and len(segments) > 2 else 2
    path = resource
    for segment in segments[:depth]:
        path = join(path, segment)
    return path, path


def flatten(
    value: Any,
    resource: str,
    segments: list[str],
    pseudo: bool,
    norm: Normaliser,
    into: NormalisedStack,
) -> None:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            flatten(item, resource, [*segments, key], pseudo, norm, into)
        return
    if isinstance(value, list) and value:
        named = [(item_id(item), item) for item in value]
        counts = Counter(ident for ident, _ in named)
        first: dict[str, Any] = {}
        for ident, item in named:
            first.setdefault(ident, item)
        for ident, item in first.items():
            copies = counts[ident]
            shown = item if copies == 1 else [item] * copies
            _leaf(shown, resource, [*segments, ident], pseudo, norm, into)
        return
    _leaf(value, resource, segments, pseudo, norm, into)


def _leaf(
    value: Any,
    resource: str,
    segments: list[str],
    pseudo: bool,
    norm: Normaliser,
    into: NormalisedStack,
) -> None:
    path = resource
    for segment in segments:
        path = join(path, segment)
    into.leaves[path] = value
    into.resource_of[path] = resource
    into.settings[path], into.resource_settings[path] = setting_of(resource, segments, pseudo)
    named = set().union(
        *(norm.others_named(s, key=True) for s in segments),
        *(norm.others_named(s) for s in strings(value, keys=True)),
    )
    if named:
        into.references[path] = sorted(named)


def strings(value: Any, keys: bool = False) -> Iterable[str]:
    """The strings a document holds as values, and with `keys` its mapping keys too."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            if keys:
                yield str(key)
            yield from strings(item, keys)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item, keys)
