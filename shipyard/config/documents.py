"""YAML documents that become typed models: one way to parse, one way to report problems."""

from __future__ import annotations

from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from shipyard.config.errors import explain_validation_error
from shipyard.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def parse_mapping(text: str, name: str, expected: str = "a mapping of keys") -> dict[str, Any]:
    """YAML text that must hold a mapping; errors name the file and the line."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(name, where, f"invalid YAML: {problem}") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ConfigError(name, "", f"must be {expected}, not a {type(doc).__name__}")
    return doc


def validate_document(model: type[M], doc: dict[str, Any], name: str) -> M:
    """The document as a model; the first problem names the file and the path in it."""
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        raise explain_validation_error(
            exc, overlay=(name, doc), base=(name, {}), merged=doc, model=model
        ) from None
