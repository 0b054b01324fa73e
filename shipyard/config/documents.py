"""YAML documents that become typed models: one way to read, parse and report problems.

Every YAML file shipyard reads (stack files, the template's output, stacks/parity.yaml, smoke
specs, Pulumi.yaml and Pulumi.<env>.yaml) goes through `parse_yaml`: PyYAML's safe loader with
two guards it lacks. Aliases may not expand a document by more than MAX_ALIAS_EXPANSION nodes: a
"billion laughs" document is a few hundred bytes whose aliases expand to 10^9 nodes, which
validation then walks for minutes and gigabytes. And a mapping may not repeat a key: YAML says
keys are unique (https://yaml.org/spec/1.2.2/#3211-nodes), PyYAML silently keeps the last.
Both checks run on the composed node graph, before anything is constructed or expanded.
A plain scalar YAML resolves as a timestamp but no calendar has (`2027-02-30`) is refused at its
line with the hint to quote it, not left to escape as datetime's ValueError.

PyYAML constructs an anchored node once and hands every alias of it (and every `<<:` merge of
it) that same object, so editing one service's aliased health check would edit every service
that aliases it. `parse_yaml` returns a tree that shares nothing: each use of an anchor is a copy
of its own (the alias guard above bounds how big the copies can grow).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from shipyard.config.errors import explain_validation_error
from shipyard.errors import ConfigError, UsageError

M = TypeVar("M", bound=BaseModel)

# Nodes that aliases may add to a document. A stack file has a few hundred nodes in all; a
# shared block reused by every service adds tens each.
MAX_ALIAS_EXPANSION = 10_000
MERGE_TAG = "tag:yaml.org,2002:merge"
TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


class _ScalarError(ConstructorError):
    """A plain scalar looks like a typed value (a date) but is not a valid one."""


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, except that an impossible date (`2027-02-30` matches YAML's
    timestamp pattern, then `datetime` raises ValueError) is a YAML error at its line."""

    def construct_checked_timestamp(self, node: ScalarNode) -> object:
        try:
            return self.construct_yaml_timestamp(node)
        except ValueError as exc:
            raise _ScalarError(
                None,
                None,
                f"{node.value!r} is not a valid date ({exc}); correct it, or quote it if it is "
                "text",
                node.start_mark,
            ) from None


_Loader.add_constructor(TIMESTAMP_TAG, _Loader.construct_checked_timestamp)


def read_document(path: Path, name: str) -> str:
    """A text file's contents; unreadable or non-UTF-8 files are one-line usage errors."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{name}: cannot read ({exc.strerror})") from None
    return decode_utf8(data, name)


def decode_utf8(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            name,
            f"line {line}",
            f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as UTF-8",
        ) from None


def parse_yaml(text: str, name: str) -> Any:
    """YAML text as Python data, refusing alias bombs and duplicate keys; errors name the file
    and the line."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _NodeCheck(name, loader).run(node)
        return unshared(loader.construct_document(node))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        if not isinstance(exc, _ScalarError):
            problem = f"invalid YAML: {problem}"
        raise ConfigError(name, where, problem) from None
    except RecursionError:
        raise ConfigError(name, "", "nested too deeply to read; flatten the document") from None
    finally:
        loader.dispose()


def unshared(value: Any) -> Any:
    """A copy of a parsed document in which no mapping or list is reachable from two places.

    Unlike copy.deepcopy, which remembers what it copied and so keeps shared objects shared,
    every occurrence is copied afresh. Scalars (strings, numbers, dates) are immutable and kept.
    The document must be acyclic (parse_yaml refuses an alias inside its own anchor).
    """
    if isinstance(value, dict):
        return {key: unshared(item) for key, item in value.items()}
    if isinstance(value, list):
        return [unshared(item) for item in value]
    if isinstance(value, tuple):  # !!pairs and !!omap: tuples of a key and any value
        return tuple(unshared(item) for item in value)
    if isinstance(value, set):  # !!set: hashable, so immutable, members
        return set(value)
    return value


def parse_mapping(text: str, name: str, expected: str = "a mapping of keys") -> dict[str, Any]:
    """YAML text that must hold a mapping; errors name the file and the line."""
    doc = parse_yaml(text, name)
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ConfigError(name, "", f"must be {expected}, not a {type(doc).__name__}")
    return doc


def load_mapping(path: Path, name: str, expected: str = "a mapping of keys") -> dict[str, Any]:
    """A YAML file that must hold a mapping."""
    return parse_mapping(read_document(path, name), name, expected)


def validate_document(model: type[M], doc: dict[str, Any], name: str) -> M:
    """The document as a model; the first problem names the file and the path in it."""
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        raise explain_validation_error(
            exc, overlay=(name, doc), base=(name, {}), merged=doc, model=model
        ) from None


class _NodeCheck:
    """One walk of the node graph: each distinct node once, its expanded size remembered."""

    def __init__(self, name: str, loader: _Loader) -> None:
        self.name = name
        self.loader = loader
        self.sizes: dict[int, int] = {}
        self.open: set[int] = set()
        self.limit = 0

    def run(self, root: Node) -> None:
        self.limit = _distinct_nodes(root) + MAX_ALIAS_EXPANSION
        self._size(root, "")

    def _size(self, node: Node, path: str) -> int:
        key = id(node)
        if key in self.sizes:
            return self.sizes[key]
        if key in self.open:
            raise self._error(
                node, path, "an alias refers to a node that contains it; remove that alias"
            )
        self.open.add(key)
        total = 1
        if isinstance(node, MappingNode):
            self._refuse_duplicate_keys(node, path)
            for key_node, value_node in node.value:
                total += self._size(key_node, path)
                total += self._size(value_node, _join(path, key_node))
                if total > self.limit:
                    break
        elif isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                total += self._size(item, f"{path}[{index}]")
                if total > self.limit:
                    break
        if total > self.limit:
            raise self._error(
                node,
                path,
                f"aliases expand this document by more than {MAX_ALIAS_EXPANSION:,} nodes "
                "(an alias bomb?); write the values out or alias less",
            )
        self.open.discard(key)
        self.sizes[key] = total
        return total

    def _refuse_duplicate_keys(self, node: MappingNode, path: str) -> None:
        seen: dict[Any, Node] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == MERGE_TAG:
                continue
            key = self.loader.construct_object(key_node)
            first = seen.setdefault(key, key_node)
            if first is not key_node:
                raise ConfigError(
                    self.name,
                    _join(path, key_node),
                    f"key {key_node.value!r} appears twice, at {self._at(first)} and "
                    f"{self._at(key_node)}; keep one",
                )

    def _at(self, node: Node) -> str:
        return f"{self.name}:{node.start_mark.line + 1}"

    def _error(self, node: Node, path: str, problem: str) -> ConfigError:
        where = f"line {node.start_mark.line + 1}" + (f" ({path})" if path else "")
        return ConfigError(self.name, where, problem)


def _distinct_nodes(root: Node) -> int:
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, MappingNode):
            stack.extend(n for pair in node.value for n in pair)
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)
    return len(seen)


def _join(path: str, key_node: Node) -> str:
    key = str(key_node.value) if isinstance(key_node, ScalarNode) else "?"
    return f"{path}.{key}" if path else key
