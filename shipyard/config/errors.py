"""Turn a pydantic ValidationError into one line naming the file, the config path and the fix."""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from shipyard.config.model import AT_KEY, AT_PATH, StackConfig
from shipyard.config.plain_secrets import Masker, mask_text
from shipyard.config.secret_shapes import secret_named
from shipyard.errors import ConfigError

Document = tuple[str, dict[str, Any]]


def explain_validation_error(
    exc: ValidationError,
    *,
    overlay: Document,
    base: Document,
    merged: dict[str, Any],
    model: type[BaseModel] = StackConfig,
) -> ConfigError:
    """The first error, located in the file that set (or should set) the offending key."""
    errors = exc.errors(include_url=False)
    # An unknown key is usually a misspelt known one: name it first, with the hint.
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = tuple(first["loc"])
    if first["type"] == AT_KEY:
        loc += (first["ctx"]["key"],)
    elif first["type"] == AT_PATH:
        loc += tuple(first["ctx"]["loc"])
    file, path = locate(loc, overlay=overlay, base=base, merged=merged)
    problem = _problem(first, loc, model)
    if len(errors) > 1:
        problem += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return ConfigError(file, path, problem)


def locate(
    loc: tuple[Any, ...], *, overlay: Document, base: Document, merged: dict[str, Any]
) -> tuple[str, str]:
    """Pick the file where the longest prefix of loc exists; the overlay wins ties."""
    overlay_depth, overlay_path = _trace(overlay[1], loc, merged)
    base_depth, base_path = _trace(base[1], loc, merged)
    if base_depth > overlay_depth:
        return base[0], base_path
    return overlay[0], overlay_path


def _trace(doc: Any, loc: tuple[Any, ...], merged: Any) -> tuple[int, str]:
    """How deep loc reaches into doc, and loc spelled with doc's own list indices."""
    parts: list[str] = []
    depth = 0
    here, there = doc, merged
    for key in loc:
        if here is None:
            break
        if isinstance(key, int):
            item = there[key] if isinstance(there, list) and key < len(there) else None
            index = _index_in(here, key, item)
            if index is None:
                break
            parts.append(f"[{index}]")
            here, there = here[index], item
        else:
            if not isinstance(here, dict) or key not in here:
                break
            parts.append(f".{key}" if parts else str(key))
            here = here[key]
            there = there.get(key) if isinstance(there, dict) else None
        depth += 1
    for key in loc[depth:]:
        parts.append(f"[{key}]" if isinstance(key, int) else (f".{key}" if parts else str(key)))
    return depth, "".join(parts)


def _index_in(here: Any, index: int, merged_item: Any) -> int | None:
    if not isinstance(here, list):
        return None
    name = merged_item.get("name") if isinstance(merged_item, dict) else None
    if name is not None:
        for i, entry in enumerate(here):
            if isinstance(entry, dict) and entry.get("name") == name:
                return i
        return None
    return index if index < len(here) else None


def _problem(error: Any, loc: tuple[Any, ...], model: type[BaseModel]) -> str:
    kind = error["type"]
    message = str(error["msg"])
    value = error.get("input")
    if kind == "missing":
        expected = _describe(_annotation_at(loc, model))
        return f"is required ({expected})" if expected else "is required"
    if kind == "extra_forbidden":
        return _unknown_key(loc, model)
    if kind in (AT_KEY, AT_PATH):
        return message
    if kind == "value_error":
        return mask_text(message.removeprefix("Value error, "))
    if kind == "assertion_error":
        return mask_text(message.removeprefix("Assertion failed, "))
    message = message.replace("Input should be", "must be")
    return f"{message} (got {_show_input(value, loc)})"


def _show_input(value: Any, loc: tuple[Any, ...]) -> str:
    """A wrong value quoted back; under a secret-named key or in a service's environment (where
    secrets get typed by mistake) only its type, and anything secret-shaped masked."""
    keys = [str(k) for k in loc if isinstance(k, str)]
    if "environment" in keys[1:] or any(secret_named(k) for k in keys):
        return _KINDS.get(type(value), "a value")
    key = keys[-1] if keys else None
    return _show(Masker().mask(value, key))


_KINDS = {
    dict: "a mapping",
    list: "a list",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    str: "a string",
    type(None): "null",
}


def _unknown_key(loc: tuple[Any, ...], model: type[BaseModel]) -> str:
    key = str(loc[-1])
    valid = _keys_at(loc[:-1], model)
    if not valid:
        return f"unknown key {key!r}"
    hint = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
    if hint:
        return f"unknown key {key!r}; did you mean {hint[0]!r}?"
    return f"unknown key {key!r}; valid keys: {', '.join(sorted(valid))}"


def _annotation_at(loc: tuple[Any, ...], model: type[BaseModel]) -> Any:
    """The type the model expects at loc, or None when loc leaves the model."""
    annotation: Any = model
    for key in loc:
        annotation = _unwrap(annotation, key)
        if annotation is None:
            return None
    return annotation


def _describe(annotation: Any) -> str:
    """What a value of this type looks like, in words a config author knows."""
    model = _model_of(annotation)
    if model is not None:
        keys = ", ".join(field.alias or name for name, field in model.model_fields.items())
        return f"a mapping with keys {keys}"
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _describe(typing.get_args(annotation)[0])
    if origin is list:
        return "a list"
    if origin is dict:
        return "a mapping"
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(annotation))
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
    return names.get(annotation, "")


def _keys_at(loc: tuple[Any, ...], root: type[BaseModel]) -> list[str]:
    """The keys a model accepts at loc (empty when loc does not land on a model)."""
    model = _model_of(_annotation_at(loc, root))
    if model is None:
        return []
    return [field.alias or name for name, field in model.model_fields.items()]


def _unwrap(annotation: Any, key: Any) -> Any:
    model = _model_of(annotation)
    if model is not None:
        if not isinstance(key, str):
            return None
        for name, field in model.model_fields.items():
            if key in (name, field.alias):
                return field.annotation
        return None
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is list and isinstance(key, int):
        return args[0]
    if origin is dict and isinstance(key, str):
        return args[1]
    return None


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                return arg
    return None


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
