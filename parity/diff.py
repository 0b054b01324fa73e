"""What differs between two normalised stacks, as deepdiff finds it, mapped back to leaf paths.

Dicts compare by key; lists that are not keyed compare as multisets (`ignore_order` with
`report_repetition`, and `cutoff_distance_for_pairs=0`, so a changed item is one removed and
one added item, never a string of shifted "changed" leaves).
"""

from __future__ import annotations

import bisect
import re
from typing import Any

from deepdiff import DeepDiff

from parity.leaves import item_id, join
from parity.normalise import NormalisedStack


def differing(left: NormalisedStack, right: NormalisedStack) -> set[str]:
    """The leaf paths whose values differ between two stacks, as deepdiff finds them."""
    diff = DeepDiff(
        left.tree,
        right.tree,
        ignore_order=True,
        report_repetition=True,
        cutoff_distance_for_pairs=0,
        threshold_to_diff_deeper=0,
        view="tree",
    )
    found: set[str] = set()
    sorted_left, sorted_right = sorted(left.leaves), sorted(right.leaves)
    for report_type, items in diff.items():
        side = right.tree if report_type.endswith("_added") else left.tree
        for item in items:
            prefixes = _prefixes(side, item.path(output_format="list"))
            for prefix in prefixes:
                if prefix in left.leaves or prefix in right.leaves:
                    found.add(prefix)
            found.update(_under(prefixes[-1], sorted_left))
            found.update(_under(prefixes[-1], sorted_right))
    return found


def _prefixes(tree: Any, keys: list[Any]) -> list[str]:
    """The path strings along a deepdiff path: a list index becomes its item's name."""
    node = tree
    path = ""
    out: list[str] = []
    for key in keys:
        if isinstance(node, list) and isinstance(key, int):
            item = node[key] if key < len(node) else None
            path = join(path, item_id(item))
            out.append(path)
            break  # a multiset item is compared whole
        path = str(key) if not path else join(path, str(key))
        out.append(path)
        node = node.get(key) if isinstance(node, dict) else None
    return out


def _under(prefix: str, sorted_paths: list[str]) -> list[str]:
    found = []
    index = bisect.bisect_left(sorted_paths, prefix)
    while index < len(sorted_paths) and sorted_paths[index].startswith(prefix):
        path = sorted_paths[index]
        if len(path) == len(prefix) or path[len(prefix)] in ".[":
            found.append(path)
        index += 1
    return found


_TOKEN = re.compile(r"(?<!\{)\{env\}(?!\})")


def as_written(value: Any, env: str) -> Any:
    """A normalised value with the environment's own name written back in place of `{env}`."""
    if isinstance(value, str):
        return _TOKEN.sub(env, value).replace("{{env}}", "{env}")
    if isinstance(value, dict):
        return {as_written(k, env): as_written(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [as_written(v, env) for v in value]
    return value


def same(left: Any, right: Any) -> bool:
    return type(left) is type(right) and bool(left == right)
