"""Secret-shaped values in plain config and in reports, found with Yelp's detect-secrets.

A service's `environment` is published: in Pulumi.<env>.yaml, the rendered stack, every parity
format and docs/environments.md. `plain_secret` says whether a key/value pair looks like a
secret (a secret-named key such as DB_PASSWORD with a real-looking value, an AWS key, a private
key, a URL with user:password@, a token of a known vendor, a long high-entropy string), so
loading refuses it. `mask_secrets` replaces whatever still looks like a secret in a report
(inside JSON strings, URLs, lists of name/value pairs) with "[secret]": defence in depth.

detect-secrets' plugins are used directly, not through its scan settings: those are process-wide
and can verify candidates against vendor APIs over the network. They are imported on first use
(about 80 ms, most of it `requests`), so commands that load no config do not pay for them.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from shipyard.config.json_text import json_in
from shipyard.config.secret_shapes import (
    MASK,
    SHAPES,
    is_setting,
    last_word_names_secret,
)

if TYPE_CHECKING:
    from detect_secrets.plugins.base import BasePlugin
    from detect_secrets.plugins.high_entropy_strings import Base64HighEntropyString
    from detect_secrets.plugins.keyword import KeywordDetector

PRIVATE_KEY = "Private Key"  # detect-secrets' PrivateKeyDetector.secret_type
BASIC_AUTH = "Basic Auth Credentials"  # BasicAuthDetector captures the password alone
# detect-secrets' default Base64 entropy limit, over runs of at least MIN_TOKEN characters
# (shorter runs are names and versions, not keys).
ENTROPY_LIMIT = 4.5
MIN_TOKEN = 20
# A found secret shorter than this is masked where found but not searched for elsewhere.
MIN_SCRUB = 4
_TOKEN = re.compile(rf"[A-Za-z0-9+/_=-]{{{MIN_TOKEN},}}")
# `[name=DB_PASSWORD].value` and `.DB_PASSWORD` name a key in a parity path.
_PATH_KEY = re.compile(r"\[name=([^\]]+)\]|([^.\[\]]+)")


@functools.cache
def _value_plugins() -> tuple[BasePlugin, ...]:
    """Detectors that recognise a secret by its shape alone, whatever its key."""
    from detect_secrets.plugins.aws import AWSKeyDetector
    from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
    from detect_secrets.plugins.basic_auth import BasicAuthDetector
    from detect_secrets.plugins.discord import DiscordBotTokenDetector
    from detect_secrets.plugins.github_token import GitHubTokenDetector
    from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
    from detect_secrets.plugins.jwt import JwtTokenDetector
    from detect_secrets.plugins.npm import NpmDetector
    from detect_secrets.plugins.openai import OpenAIDetector
    from detect_secrets.plugins.private_key import PrivateKeyDetector
    from detect_secrets.plugins.pypi_token import PypiTokenDetector
    from detect_secrets.plugins.sendgrid import SendGridDetector
    from detect_secrets.plugins.slack import SlackDetector
    from detect_secrets.plugins.stripe import StripeDetector
    from detect_secrets.plugins.twilio import TwilioKeyDetector

    return (
        AWSKeyDetector(),
        AzureStorageKeyDetector(),
        BasicAuthDetector(),
        DiscordBotTokenDetector(),
        GitHubTokenDetector(),
        GitLabTokenDetector(),
        JwtTokenDetector(),
        NpmDetector(),
        OpenAIDetector(),
        PrivateKeyDetector(),
        PypiTokenDetector(),
        SendGridDetector(),
        SlackDetector(),
        StripeDetector(),
        TwilioKeyDetector(),
    )


@functools.cache
def _keyword() -> KeywordDetector:
    from detect_secrets.plugins.keyword import KeywordDetector

    return KeywordDetector()


@functools.cache
def _entropy() -> Base64HighEntropyString:
    from detect_secrets.plugins.high_entropy_strings import Base64HighEntropyString

    return Base64HighEntropyString(limit=ENTROPY_LIMIT)


def plain_secret(key: str, value: str) -> str | None:
    """The kind of secret this key/value pair looks like ("Secret Keyword", "AWS Access Key"),
    or None."""
    found = _shaped(value)
    if found:
        return found[0][0]
    if _named_secret(key, value):
        return _keyword().secret_type
    return None


def plain_secrets_in(
    doc: Any, loc: tuple[str | int, ...] = ()
) -> list[tuple[tuple[str | int, ...], str]]:
    """(config path, kind) of every secret-shaped string in JSON-shaped data. Pulumi's
    encrypted `{secure: ...}` values are ciphertext, not plain secrets."""
    if isinstance(doc, dict):
        if set(doc) == {"secure"}:
            return []
        return [found for k, v in doc.items() for found in plain_secrets_in(v, (*loc, str(k)))]
    if isinstance(doc, list):
        return [found for i, v in enumerate(doc) for found in plain_secrets_in(v, (*loc, i))]
    if isinstance(doc, str):
        key = next((k for k in reversed(loc) if isinstance(k, str)), "")
        kind = plain_secret(key, doc)
        return [(loc, kind)] if kind else []
    return []


def secrets_in(value: str, key: str | None = None) -> set[str]:
    """The secret substrings of value (the whole value when its key names a secret)."""
    found = {text for _, text in _shaped(value)}
    if key is not None and _named_secret(key, value):
        found.add(value)
    return found


def mask_text(value: str, key: str | None = None) -> str:
    """value with every secret in it replaced by [secret]."""
    return _replace(value, secrets_in(value, key))


class Masker:
    """Masks secret-shaped values in JSON-shaped data and remembers what it masked, so the same
    value can be scrubbed wherever else it was quoted (a rule's reason, a drift line)."""

    def __init__(self) -> None:
        self.found: set[str] = set()

    def mask(self, value: Any, key: str | None = None) -> Any:
        if isinstance(value, dict):
            pair = _name_value_pair(value)
            if pair is not None:
                return {**value, "value": self.mask(pair[1], pair[0])}
            return {k: self.mask(v, str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.mask(item, key) for item in value]
        if isinstance(value, str):
            return self._mask_string(value, key)
        return value

    def scrub(self, value: Any) -> Any:
        """value with every secret found so far replaced, wherever it appears."""
        wanted = {s for s in self.found if len(s) >= MIN_SCRUB}
        if not wanted:
            return value
        if isinstance(value, dict):
            return {k: self.scrub(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.scrub(item) for item in value]
        if isinstance(value, str):
            return _replace(value, wanted)
        return value

    def _mask_string(self, value: str, key: str | None) -> str:
        parsed = json_in(value)
        if parsed is not None:
            masked = self.mask(parsed, key)
            return value if masked == parsed else json.dumps(masked, sort_keys=True)
        found = secrets_in(value, key)
        self.found |= found
        return _replace(value, found)


def mask_secrets(doc: Any) -> Any:
    """doc with everything secret-shaped replaced by [secret]."""
    masker = Masker()
    return masker.scrub(masker.mask(doc))


def key_of_path(path: str) -> str | None:
    """The variable a flattened path ends in: `...environment[name=DB_PASSWORD].value` ->
    DB_PASSWORD, `...tags.owner` -> owner."""
    keys: list[str] = [name or plain for name, plain in _PATH_KEY.findall(path)]
    if keys and keys[-1] == "value" and len(keys) > 1:
        return keys[-2]
    return keys[-1] if keys else None


def _shaped(value: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for plugin in _value_plugins():
        for text in plugin.analyze_string(value):
            if plugin.secret_type == PRIVATE_KEY:
                text = value  # the header is what matches; the key is the whole value
            elif plugin.secret_type != BASIC_AUTH:
                # Some plugins' regexes capture only a prefix (GitHub's "ghp"): the secret is
                # the whole match.
                text = _whole_match(plugin, text, value)
            found.append((plugin.secret_type, text))
    for kind, shape in SHAPES:
        found.extend(
            (kind, m.group(1)) for m in shape.finditer(value) if not _is_benign(m.group(1))
        )
    entropy = _entropy()
    for token in _TOKEN.findall(value):
        if entropy.calculate_shannon_entropy(token) > ENTROPY_LIMIT and not _is_benign(token):
            found.append(("High Entropy String", token))
    return found


def _whole_match(plugin: BasePlugin, text: str, value: str) -> str:
    for regex in getattr(plugin, "denylist", ()):
        for match in regex.finditer(value):
            if text in match.group(0):
                return str(match.group(0))
    return text


def _named_secret(key: str, value: str) -> bool:
    """A secret-named key holding a value that could be the secret itself."""
    if _keyword_secret(key, value):
        return True
    return (
        last_word_names_secret(key)
        and len(value) >= MIN_SCRUB
        and not is_setting(value)
        and not _is_benign(value)
    )


def _keyword_secret(key: str, value: str) -> bool:
    """A secret-named key (DB_PASSWORD, API_KEY, ...) holding a value that is not an obvious
    placeholder, reference or number (detect-secrets' own heuristic filters)."""
    from detect_secrets.plugins.keyword import REGEX_BY_FILETYPE
    from detect_secrets.util.filetype import FileType

    line = f"{key}: {value}"
    regexes = REGEX_BY_FILETYPE[FileType.YAML]
    matches = _keyword().analyze_string(line, denylist_regex_to_group=regexes)
    return value in set(matches) and not _is_benign(value)


def _is_benign(value: str) -> bool:
    from detect_secrets.filters import heuristic

    return (
        heuristic.is_templated_secret(value)
        or heuristic.is_prefixed_with_dollar_sign(value)
        or heuristic.is_sequential_string(value)
        or heuristic.is_potential_uuid(value)
        or heuristic.is_not_alphanumeric_string(value)
        or value.startswith(("arn:aws:", "arn:aws-"))
    )


def _replace(value: str, secrets: Iterable[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        value = value.replace(secret, MASK)
    return value


def _name_value_pair(value: dict[Any, Any]) -> tuple[str, Any] | None:
    """ECS and Kubernetes spell variables as {"name": K, "value": V}."""
    name = value.get("name")
    if isinstance(name, str) and "value" in value and set(value) <= {"name", "value"}:
        return name, value["value"]
    return None
