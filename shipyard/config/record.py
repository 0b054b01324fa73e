"""Write what a rollout left live back into the stack config.

On AWS, shipyard owns which color takes traffic and what each color runs (docs/aws.md).
When a rollout ends, the service's `activeColor` and `versions` are written into
`stacks/<env>.yaml` (comments and layout kept) and `Pulumi.<env>.yaml` is rendered again, so
parity, drift and a newly created stack start from what is live. Commit both files.
"""

from __future__ import annotations

import copy
import io
from pathlib import Path
from typing import Any

from shipyard.config.load import StackSources, load_stack
from shipyard.config.model import Color
from shipyard.errors import ShipyardError
from shipyard.stacks import plan_stack_files, write_stack_files


def _yaml() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML()  # round trip: comments, order and quoting kept
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold a long value (ARNs)
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _references(tree: Any, target: object) -> int:
    """How many places in a round-trip document hold this very object (aliases and merged keys
    each count); the guarded loader has refused recursive aliases, so the walk ends."""
    count = 0
    stack = [tree]
    while stack:
        node = stack.pop()
        count += node is target
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return count


def record_live(
    sources: StackSources,
    environment: str,
    service: str,
    active: Color,
    versions: dict[Color, str | None],
) -> list[Path]:
    """Set the service's live color and versions in the overlay; return the files changed.

    Colors without a version (stopped) keep what the config says. Nothing is written when the
    result would not validate: the overlay is restored and the error raised.
    """
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    # Read through the guarded loader first: duplicate keys, alias bombs and non-UTF-8 bytes
    # are refused in one line before ruamel.yaml (which has no expansion bound) reads the file.
    services_now = load_stack(sources, environment).config.services
    current = next((s for s in services_now if s.name == service), None)
    yaml = _yaml()
    overlay = sources.overlay(environment)
    before = overlay.read_text(encoding="utf-8") if overlay.is_file() else ""
    doc = yaml.load(before) if before.strip() else None
    if doc is None:
        doc = CommentedMap()
    services = doc.get("services")
    if services is None:
        services = doc["services"] = CommentedSeq()
    entry = next((s for s in services if s.get("name") == service), None)
    if entry is None:
        entry = CommentedMap(name=service)
        services.append(entry)
    entry["activeColor"] = active.value
    if entry.get("versions") is None:
        entry["versions"] = CommentedMap()
    elif _references(doc, entry["versions"]) > 1:
        # A YAML alias or `<<:` merge shares this mapping with another service: give this
        # service a copy of its own, or recording its versions would record them for both.
        entry["versions"] = copy.deepcopy(entry["versions"])
    for color in Color:
        version = versions.get(color)
        if version:
            entry["versions"][color.value] = version
    if current is not None and current.weights is not None:
        entry["weights"] = None  # explicit weights would contradict the live color: remove
    buffer = io.StringIO()
    yaml.dump(doc, buffer)
    after = buffer.getvalue()
    if after == before:
        return []
    overlay.write_text(after, encoding="utf-8")
    try:
        # Refused (nothing written) when the stack file holds config stacks/ does not render.
        written = write_stack_files(sources, plan_stack_files(sources, [environment]))
    except ShipyardError:
        overlay.write_text(before, encoding="utf-8")
        raise
    return [overlay] + [sources.pulumi_stack_file(f.env) for f in written]
