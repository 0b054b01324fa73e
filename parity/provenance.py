"""Where a differing value came from: the stack config key that produced it (interim)."""

from __future__ import annotations

from collections.abc import Mapping

from shipyard.config.load import LoadedStack, StackSources


class Provenance:
    def __init__(
        self,
        sources: StackSources,
        stacks: Mapping[str, LoadedStack],
        roles: Mapping[str, Mapping[str, Mapping[str, str]]],
    ) -> None:
        self._sources = sources

    def explain(self, path: str) -> dict[str, str] | None:
        return None
