"""The bridge between a StackConfig and Pulumi stack config (`Pulumi.<env>.yaml`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from shipyard.config.errors import explain_validation_error
from shipyard.config.model import StackConfig
from shipyard.errors import ConfigError

NAMESPACE = "shipyard"
REGION_KEY = "aws:region"
# StackConfig fields that travel as `shipyard:<key>`; region travels as aws:region (the
# provider reads it) and pulumiConfig entries are copied verbatim.
SHIPYARD_KEYS = ("environment", "network", "services", "deploy", "alarms", "tls", "tags")
STRING_KEYS = frozenset({"environment"})


def to_pulumi_config(config: StackConfig) -> dict[str, Any]:
    """The `config:` mapping of Pulumi.<env>.yaml, every default spelled out."""
    doc = config.model_dump(mode="json", by_alias=True, exclude_none=True)
    values: dict[str, Any] = {REGION_KEY: doc["region"]}
    for key in SHIPYARD_KEYS:
        if key in doc:
            values[f"{NAMESPACE}:{key}"] = doc[key]
    values.update(doc.get("pulumiConfig", {}))
    return values


def from_pulumi_values(get: Callable[[str], str | None], region: str) -> StackConfig:
    """Rebuild the StackConfig inside the Pulumi program from raw `shipyard:*` config text."""
    doc: dict[str, Any] = {"region": region}
    for key in SHIPYARD_KEYS:
        text = get(key)
        if text is not None:
            doc[key] = text if key in STRING_KEYS else json.loads(text)
    return StackConfig.model_validate(doc)


def validate_pulumi_values(values: Mapping[str, Any], file: str) -> StackConfig:
    """Validate a stack file's `config:` values; errors name the file and the config key."""
    doc: dict[str, Any] = {}
    if REGION_KEY in values:
        doc["region"] = values[REGION_KEY]
    for key in SHIPYARD_KEYS:
        if f"{NAMESPACE}:{key}" in values:
            doc[key] = values[f"{NAMESPACE}:{key}"]
    try:
        return StackConfig.model_validate(doc)
    except ValidationError as exc:
        error = explain_validation_error(exc, overlay=(file, doc), base=(file, {}), merged=doc)
        head, _, rest = error.path.partition(".")
        head, bracket, index = head.partition("[")
        key = REGION_KEY if head == "region" else f"{NAMESPACE}:{head}"
        path = f"config.{key}{bracket}{index}" + (f".{rest}" if rest else "")
        raise ConfigError(
            file, path, f"{error.problem}; fix stacks/ and run `shipyard stacks render`"
        ) from None


def flatten_for_engine(values: Mapping[str, Any]) -> tuple[dict[str, str], list[str]]:
    """Config as the engine hands it to a program: strings (objects as JSON), secret keys apart.

    `secure:` values are ciphertexts that only the Pulumi CLI can decrypt; offline they become a
    placeholder and their key is marked secret, so presence survives but the text never does.
    """
    flat: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in values.items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            flat[key] = "[secret]"
            secret_keys.append(key)
        elif isinstance(value, str):
            flat[key] = value
        else:
            flat[key] = json.dumps(value, sort_keys=True)
    return flat, secret_keys
