"""Where a differing value came from: the `stacks/<env>.yaml` key, or the template's default.

Resource inputs are built from config, so for a path that differs between environments we look
for the config key whose per-environment values are the same as the path's: `web-blue-tg.
deregistrationDelay` (30, 30, 60) comes from `services[name=web].deregistrationDelaySeconds`,
set in stacks/prod.yaml and defaulted by the template elsewhere. When several keys fit, the one
naming the resource's service wins, then the longest.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from parity.normalise import normalise
from parity.policy import ABSENT
from shipyard.config.load import LoadedStack, StackSources

MODEL_DEFAULT = "shipyard default"


class Provenance:
    """Index of every config leaf's per-environment values, for explaining differences."""

    def __init__(
        self, sources: StackSources, stacks: Mapping[str, LoadedStack], pattern: re.Pattern[str]
    ) -> None:
        self._envs = list(stacks)
        self._origin: dict[str, dict[str, str]] = defaultdict(dict)
        leaves: dict[str, dict[str, Any]] = defaultdict(dict)
        for env, loaded in stacks.items():
            merged = loaded.config.model_dump(mode="json", by_alias=True, exclude_none=True)
            merged.pop("pulumiConfig", None)  # verbatim values, possibly secret: never indexed
            for path, value in _leaves(normalise(merged, pattern), "").items():
                leaves[path][env] = value
                self._origin[path][env] = _origin(sources, env, loaded, path)
        self._by_values: dict[str, list[str]] = defaultdict(list)
        for path, per_env in leaves.items():
            self._by_values[self._key(per_env)].append(path)

    def explain(self, resource: str, values: Mapping[str, Any]) -> dict[str, str] | None:
        """Per environment, the file and key that set this value; None when no key fits."""
        candidates = self._by_values.get(self._key(values))
        if not candidates:
            return None
        service = resource.split("-", 1)[0]
        best = max(candidates, key=lambda p: (f"[name={service}]" in p, len(p)))
        origin = self._origin[best]
        return {
            env: f"{origin[env]}: {best}" if env in origin else f"not set: {best}"
            for env in self._envs
            if env in values
        }

    def _key(self, per_env: Mapping[str, Any]) -> str:
        return json.dumps(
            [None if per_env.get(env, ABSENT) is ABSENT else per_env[env] for env in self._envs]
            + [[env for env in self._envs if per_env.get(env, ABSENT) is ABSENT]],
            sort_keys=True,
            default=str,
        )


def _leaves(value: Any, path: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(value, dict) and value:
        for key, item in value.items():
            joiner = "" if key.startswith("[") or not path else "."
            out.update(_leaves(item, f"{path}{joiner}{key}"))
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            out.update(_leaves(item, f"{path}[{index}]"))
    else:
        out[path] = value
    return out


def _origin(sources: StackSources, env: str, loaded: LoadedStack, path: str) -> str:
    if _has(loaded.overlay, path):
        return sources.rel(sources.overlay(env))
    if _has(loaded.base, path):
        return f"{sources.rel(sources.template)} (template default)"
    return MODEL_DEFAULT


_SEGMENT = re.compile(r"\[name=([^\]]+)\]|\[(\d+)\]|\.?([^.\[]+)")


def _has(doc: Any, path: str) -> bool:
    """Whether a config document sets path (`services[name=web].healthCheck.path`)."""
    here = doc
    for named, index, key in _SEGMENT.findall(path):
        if named:
            if not isinstance(here, list):
                return False
            here = next((i for i in here if isinstance(i, dict) and i.get("name") == named), None)
        elif index:
            if not isinstance(here, list) or int(index) >= len(here):
                return False
            here = here[int(index)]
        else:
            if not isinstance(here, dict) or key not in here:
                return False
            here = here[key]
        if here is None:
            return False
    return True
