"""Rendered stacks -> comparable leaf paths.

A rendered stack becomes `{path: value}` where a path is `<logical name>.<property path>`:
`web-blue-tg.healthCheck.path`. Normalising makes equal things look equal across environments:

- the environment's own name inside strings becomes `{env}` (`shipyard-prod` -> `shipyard-{env}`);
- whole floats become ints (`80.0` -> `80`);
- secrets are already `"[secret]"` from the renderer: presence and secrecy compare, text never;
- JSON held in strings (container definitions, IAM policies) is parsed, so differences are
  reported at their leaves;
- lists of objects that carry a `name` are keyed by it (`environment[name=LOG_LEVEL].value`);
  other lists are sorted, so a change of order alone is no difference;
- resources are keyed by logical name, never by position.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from parity.render import RenderedStack
from shipyard.config.json_text import json_in

ENV_TOKEN = "{env}"
TYPE_KEY = "@type"
PARENT_KEY = "@parent"


def env_pattern(env_names: Iterable[str]) -> re.Pattern[str]:
    """Environment names as whole tokens: `prod` in `shipyard-prod`, not in `production`."""
    names = sorted(set(env_names), key=len, reverse=True)
    alternatives = "|".join(re.escape(name) for name in names)
    return re.compile(rf"(?<![A-Za-z0-9])(?:{alternatives})(?![A-Za-z0-9])")


def flatten_stack(stack: RenderedStack, env_names: Iterable[str]) -> dict[str, Any]:
    """Every leaf of every resource, normalised, keyed by `<logical name>.<property path>`."""
    pattern = env_pattern([*env_names, stack.stack])
    leaves: dict[str, Any] = {}
    for resource in stack.resources:
        name = resource["name"]
        leaves[f"{name}.{TYPE_KEY}"] = resource["type"]
        leaves[f"{name}.{PARENT_KEY}"] = resource["parent"]
        for key, value in normalise(resource["inputs"], pattern).items():
            _flatten(value, f"{name}.{key}", leaves)
    return leaves


def normalise(value: Any, pattern: re.Pattern[str]) -> Any:
    """One value, normalised as the module docstring says."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, str):
        parsed = json_in(value)
        if parsed is not None:
            return normalise(parsed, pattern)
        return pattern.sub(ENV_TOKEN, value)
    if isinstance(value, dict):
        return {str(key): normalise(item, pattern) for key, item in value.items()}
    if isinstance(value, list | tuple):
        items = [normalise(item, pattern) for item in value]
        keyed = _keyed_by_name(items)
        if keyed is not None:
            return keyed
        return sorted(items, key=_canonical)
    return value


def _keyed_by_name(items: list[Any]) -> dict[str, Any] | None:
    if not items or not all(isinstance(i, dict) and isinstance(i.get("name"), str) for i in items):
        return None
    names = [item["name"] for item in items]
    if len(set(names)) != len(names):
        return None
    return {
        f"[name={item['name']}]": {k: v for k, v in item.items() if k != "name"} for item in items
    }


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _flatten(value: Any, path: str, into: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            joiner = "" if key.startswith("[") else "."
            _flatten(item, f"{path}{joiner}{key}", into)
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            _flatten(item, f"{path}[{index}]", into)
    else:
        into[path] = value
