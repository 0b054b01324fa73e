"""`stacks/parity.yaml`: the differences a team has decided on, and the paths that must match.

minScore: 90                      # percent; `shipyard parity` exits 1 below it
critical:                         # an undeclared difference here fails the run outright
  - "*-tg.healthCheck.*"
rules:
  - path: "web-*-service.desiredCount"   # logical name + property path; * and ? glob
    ratio: {staging: 1, prod: 2}         # or: any: true | oneOf: [...] | values: {env: v}
    reason: prod runs twice staging's capacity
    owner: platform-team
    expires: 2027-06-30                  # optional; an expired rule declares nothing
crossEnvironment:                 # values that may name another environment, each with a reason
  - path: "web-*-task.containerDefinitions*[name=UPSTREAM_URL].value"
    environment: staging                 # the environment whose value names another
    references: [prod]                   # the environments it may name
    reason: staging replays traffic against prod's read-only API
    owner: api-team
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, field_validator, model_validator
from pydantic.alias_generators import to_camel

from shipyard.config.documents import load_mapping, validate_document
from shipyard.errors import UsageError

ABSENT: Any = type("Absent", (), {"__repr__": lambda self: "<absent>"})()
RATIO_TOLERANCE = 1e-9
DEFAULT_MIN_SCORE = 90.0


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )


class Rule(_Model):
    """One declared difference."""

    path: str
    any: bool = False
    one_of: list[Any] | None = None
    # Strict: YAML's `true` is not the factor 1 (nor a quoted "2" the factor 2).
    ratio: dict[str, Annotated[StrictFloat, Field(gt=0)]] | None = None
    values: dict[str, Any] | None = None
    reason: str
    owner: str
    expires: dt.date | None = None

    @field_validator("ratio")
    @classmethod
    def _two_or_more(cls, ratio: dict[str, float] | None) -> dict[str, float] | None:
        if ratio is not None and len(ratio) < 2:
            raise ValueError(
                "a ratio relates two or more environments (got "
                f"{', '.join(ratio) or 'none'}); name each with its factor, e.g. "
                "{staging: 1, prod: 2}"
            )
        return ratio

    @model_validator(mode="after")
    def _one_relation(self) -> Rule:
        given = [
            name
            for name, set_ in (
                ("any", self.any),
                ("oneOf", self.one_of is not None),
                ("ratio", self.ratio is not None),
                ("values", self.values is not None),
            )
            if set_
        ]
        if len(given) != 1:
            raise ValueError(
                "give exactly one relation: any: true, oneOf: [...], ratio: {env: factor} or "
                f"values: {{env: value}} (got {', '.join(given) or 'none'})"
            )
        if not self.reason.strip() or not self.owner.strip():
            raise ValueError("reason and owner must not be empty")
        return self

    @property
    def relation(self) -> str:
        if self.any:
            return "any"
        if self.one_of is not None:
            return f"one of {self.one_of}"
        if self.ratio is not None:
            return "ratio " + ", ".join(f"{env}:{factor:g}" for env, factor in self.ratio.items())
        return "values " + ", ".join(
            f"{env}={value!r}" for env, value in (self.values or {}).items()
        )

    def matches(self, path: str) -> bool:
        return glob(self.path).match(path) is not None

    def expired(self, today: dt.date) -> bool:
        return self.expires is not None and self.expires < today

    def violation(self, values: dict[str, Any]) -> str | None:
        """Why these per-environment values break the relation, or None when they keep it."""
        if self.any:
            return None
        if self.one_of is not None:
            wrong = {env: v for env, v in values.items() if v is ABSENT or v not in self.one_of}
            return None if not wrong else f"not one of {self.one_of}: {_show(wrong)}"
        if self.values is not None:
            wrong = {
                env: v
                for env, v in values.items()
                if env in self.values and not _same(v, self.values[env])
            }
            return None if not wrong else f"expected {_show(self.values)}, got {_show(wrong)}"
        return self._ratio_violation(values)

    def _ratio_violation(self, values: dict[str, Any]) -> str | None:
        ratio = self.ratio or {}
        scaled = {}
        for env, factor in ratio.items():
            if env not in values:
                continue
            value = values[env]
            if isinstance(value, bool) or not isinstance(value, int | float):
                return f"ratio needs numbers, {env} has {_show(value)}"
            scaled[env] = value / factor
        if len(scaled) < 2:
            return None
        first = next(iter(scaled.values()))
        if all(abs(v - first) <= RATIO_TOLERANCE * max(1.0, abs(first)) for v in scaled.values()):
            return None
        return f"expected {self.relation}, got {_show({e: values[e] for e in scaled})}"


class Allowance(_Model):
    """A value in one environment that may name another environment, on purpose."""

    path: str
    environment: str
    references: list[str]
    reason: str
    owner: str
    expires: dt.date | None = None

    @model_validator(mode="after")
    def _filled(self) -> Allowance:
        if not self.reason.strip() or not self.owner.strip():
            raise ValueError("reason and owner must not be empty")
        if not self.references:
            raise ValueError("references must name at least one environment")
        return self

    def allows(self, path: str, env: str, named: str, today: dt.date) -> bool:
        return (
            env == self.environment
            and named in self.references
            and (self.expires is None or self.expires >= today)
            and glob(self.path).match(path) is not None
        )


class ParityPolicy(_Model):
    """The whole of stacks/parity.yaml."""

    # Strict: YAML's `true` is not 1%.
    min_score: Annotated[StrictFloat, Field(ge=0, le=100)] = DEFAULT_MIN_SCORE
    critical: list[str] = []
    rules: list[Rule] = []
    cross_environment: list[Allowance] = []

    def allowance_for(self, path: str, env: str, named: str, today: dt.date) -> Allowance | None:
        """The allowance that lets env's value at path name another environment, if any."""
        return next((a for a in self.cross_environment if a.allows(path, env, named, today)), None)

    @cached_property
    def _critical(self) -> re.Pattern[str] | None:
        if not self.critical:
            return None
        return re.compile("|".join(f"(?:{glob(p).pattern})" for p in self.critical), re.DOTALL)

    def is_critical(self, path: str) -> bool:
        return self._critical is not None and self._critical.match(path) is not None

    def matcher(self, skip: frozenset[int] = frozenset()) -> RuleMatcher:
        """Finds the rule for a path among the rules not in `skip` (catch-alls)."""
        return RuleMatcher(self.rules, skip)


class RuleMatcher:
    """The first matching rule, by one alternation tried left to right: order in the file is
    precedence."""

    def __init__(self, rules: list[Rule], skip: frozenset[int]) -> None:
        self.rules = rules
        alternatives = [
            f"(?P<r{i}>{glob(rule.path).pattern})" for i, rule in enumerate(rules) if i not in skip
        ]
        self._pattern = re.compile("|".join(alternatives), re.DOTALL) if alternatives else None

    def rule_for(self, path: str) -> tuple[int, Rule] | None:
        if self._pattern is None:
            return None
        match = self._pattern.match(path)
        if match is None or match.lastgroup is None:
            return None
        index = int(match.lastgroup[1:])
        return index, self.rules[index]


@functools.lru_cache(maxsize=1024)
def glob(pattern: str) -> re.Pattern[str]:
    """`*` any run of characters (dots included), `?` one character; all else literal, so
    `[name=web]` in a path is matched as written."""
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts) + r"\Z", re.DOTALL)


def load_policy(path: Path, display: str) -> ParityPolicy:
    """Read and validate parity.yaml; a missing file means defaults (no declared differences).
    Something else at its path (a directory, a dangling link, a device) is refused: read as
    "no policy", it would drop the critical paths and the minimum the file sets, silently."""
    if not path.exists() and not path.is_symlink():
        return ParityPolicy()
    if not path.is_file():
        what = "not a regular file"
        if path.is_dir():
            what = "a directory"
        elif not path.exists():
            what = "a link to nothing"
        raise UsageError(
            f"{display} is {what}: parity reads its rules from that file; replace it with the "
            "YAML rules file (docs/parity.md), or remove it to compare without rules"
        )
    doc = load_mapping(path, display, "a mapping with minScore, critical and rules")
    return validate_document(ParityPolicy, doc, display)


def share_text(share: float) -> str:
    """A breadth share as a percent with one decimal, rounded up: a share over a limit never
    reads as the limit itself ("10.1% of all settings (more than 10%)", never "10%")."""
    return f"{math.ceil(round(share * 1000, 6)) / 10:.1f}%"


def _same(left: Any, right: Any) -> bool:
    if right is None:  # `values: {dev: null}` declares the path absent (or null) in dev
        return left is ABSENT or left is None
    if isinstance(left, int | float) and isinstance(right, int | float):
        return float(left) == float(right)
    return bool(left == right)


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + "}"
    return "absent" if value is ABSENT else repr(value)
