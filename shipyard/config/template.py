"""The stack template's Jinja2 environment: a sandbox that bounds what a template can build.

A template is code. Jinja's sandbox keeps it away from Python's internals, refuses to mutate
values (ImmutableSandboxedEnvironment) and bounds `range()` to MAX_RANGE items
(https://jinja.palletsprojects.com/en/stable/sandbox/), but not the size of what a template
builds: `{{ "a" * 100000000 }}` took 23 s and 564 MB. Here every way to multiply text or numbers
is checked *before* the value is built, against MAX_VALUE:

- the operators `*`, `**`, `+` and `%` (intercepted binary operators, `call_binop`);
- `~` and every captured block, macro and `{% set %}...{% endset %}` (`concat`);
- methods: only the plain string and mapping ones below may be called (`"a".ljust(10**9)`,
  `(1).to_bytes(10**9)` or `{}.fromkeys(...)` may not), and only filters that cannot pad,
  repeat or fill (`center`, `indent`, `format`, `replace`, `join`, `batch`, `lipsum`... are gone).

The rendered text itself is streamed and cut at MAX_OUTPUT. Time is not bounded: loops over
`range()` that print nothing still cost their iterations (MAX_RANGE each).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

# The committed template renders to about 2 KB; no stack config comes near a mebibyte.
MAX_OUTPUT = 1 << 20
MAX_VALUE = MAX_OUTPUT
MAX_INT_BITS = 4096
SAFE_METHODS = frozenset(
    {
        # str: none of these returns more text than it was given
        "capitalize", "casefold", "count", "endswith", "find", "index", "isalnum", "isalpha",
        "isdigit", "islower", "isspace", "isupper", "lower", "lstrip", "partition",
        "removeprefix", "removesuffix", "rfind", "rpartition", "rsplit", "rstrip", "split",
        "splitlines", "startswith", "strip", "swapcase", "title", "upper",
        # mappings, and Jinja's own loop/cycler helpers
        "get", "items", "keys", "values", "cycle", "changed", "next", "reset",
    }
)  # fmt: skip
SAFE_FILTERS = frozenset(
    {
        "abs", "attr", "capitalize", "count", "d", "default", "dictsort", "e", "escape",
        "first", "float", "forceescape", "groupby", "int", "items", "last", "length", "list",
        "lower", "map", "max", "min", "reject", "rejectattr", "reverse", "round", "safe",
        "select", "selectattr", "sort", "string", "striptags", "title", "tojson", "trim",
        "truncate", "unique", "upper", "urlencode", "wordcount",
    }
)  # fmt: skip
_PERCENT_WIDTHS = re.compile(r"%[-#0 +]*(\d*)(?:\.(\d+))?")


class TemplateTooLarge(SecurityError):
    """The template would build a value or a document past the bounds above."""


class _BoundedConcat(CodeGenerator):
    """`a ~ b` compiles to a plain "".join; route it through the environment's bounded concat."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:  # noqa: N802 (Jinja's name)
        self.write("environment.concat((str(_part) for _part in (")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write(")))")


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """An immutable sandbox whose operators, joins, methods and filters cannot blow memory."""

    code_generator_class = _BoundedConcat
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.filters = {k: v for k, v in self.filters.items() if k in SAFE_FILTERS}
        self.globals.pop("lipsum", None)

    def concat(self, parts: Iterable[str]) -> str:
        kept: list[str] = []
        size = 0
        for part in parts:
            size += len(part)
            if size > MAX_VALUE:
                raise _too_large("joined text")
            kept.append(part)
        return "".join(kept)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if callable(value) and attr not in SAFE_METHODS:
            return False
        return super().is_safe_attribute(obj, attr, value)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            _check_repeat(left, right)
        elif operator == "**":
            _check_power(left, right)
        elif operator == "+" and not _numbers(left, right):
            if _size(left) + _size(right) > MAX_VALUE:
                raise _too_large("`+`")
        elif operator == "%" and isinstance(left, str):
            widths = sum(int(w or 0) + int(p or 0) for w, p in _PERCENT_WIDTHS.findall(left))
            if len(left) + widths + _size(right) > MAX_VALUE:
                raise _too_large("`%` formatting")
        return super().call_binop(context, operator, left, right)


def _check_repeat(left: Any, right: Any) -> None:
    if _numbers(left, right):
        if isinstance(left, int) and isinstance(right, int):
            if left.bit_length() + right.bit_length() > MAX_INT_BITS:
                raise _too_large("`*`")
        return
    count, sequence = (right, left) if isinstance(right, int) else (left, right)
    if isinstance(count, int) and count > 0 and _size(sequence) * count > MAX_VALUE:
        raise _too_large("`*`")


def _check_power(base: Any, exponent: Any) -> None:
    if isinstance(base, int) and isinstance(exponent, int) and abs(base) > 1 and exponent > 0:
        if exponent * math.log2(abs(base)) > MAX_INT_BITS:
            raise _too_large("`**`")


def _numbers(*values: Any) -> bool:
    return all(isinstance(v, int | float) for v in values)


def _size(value: Any) -> int:
    """About how many characters value prints as (each shared reference counted again)."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, Mapping):
        items: Iterable[Any] = (x for pair in value.items() for x in pair)
    elif isinstance(value, list | tuple | set | frozenset):
        items = value
    else:
        return len(repr(value)) if isinstance(value, int | float | bool) else 16
    total = 2
    for item in items:
        total += _size(item) + 2
        if total > MAX_VALUE:
            break
    return total


def _too_large(what: str) -> TemplateTooLarge:
    return TemplateTooLarge(
        f"{what} would build a value over {MAX_VALUE >> 20} MiB; a stack template renders a "
        "few KB: remove the expression"
    )
