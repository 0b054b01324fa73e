"""Compare flattened stacks N-way and pairwise; classify every path; score.

    parity       = (equal + declared) / all paths
    raw identity = equal / all paths

A path is `equal` when every environment has it with the same value; `declared` when a live
(unexpired) rule matches it and its values keep the rule's relation; `missing` when some
environment lacks it and no rule declares that; `undeclared` otherwise. No paths: no score.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from parity.policy import ABSENT, ParityPolicy, Rule


class Classification(StrEnum):
    EQUAL = "equal"
    DECLARED = "declared"
    UNDECLARED = "undeclared"
    MISSING = "missing"

    @property
    def matches(self) -> bool:
        return self in (Classification.EQUAL, Classification.DECLARED)


class RuleState(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    BROKEN = "broken"
    STALE = "stale"


@dataclass(frozen=True)
class PathResult:
    path: str
    values: dict[str, Any]
    classification: Classification
    critical: bool
    rule: Rule | None = None
    reason: str | None = None
    rule_index: int | None = None

    @property
    def resource(self) -> str:
        return resource_of(self.path)


@dataclass(frozen=True)
class Tally:
    """Counts over a set of paths, and the two scores (percent, None when empty)."""

    equal: int = 0
    declared: int = 0
    undeclared: int = 0
    missing: int = 0

    @property
    def total(self) -> int:
        return self.equal + self.declared + self.undeclared + self.missing

    @property
    def score(self) -> float | None:
        return None if not self.total else round(100 * (self.equal + self.declared) / self.total, 2)

    @property
    def raw_identity(self) -> float | None:
        return None if not self.total else round(100 * self.equal / self.total, 2)

    @classmethod
    def of(cls, classifications: Iterable[Classification]) -> Tally:
        counts = Counter(c.value for c in classifications)
        return cls(**{c.value: counts.get(c.value, 0) for c in Classification})

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "raw_identity": self.raw_identity,
            "paths": self.total,
            "equal": self.equal,
            "declared": self.declared,
            "undeclared": self.undeclared,
            "missing": self.missing,
        }


@dataclass(frozen=True)
class RuleReport:
    rule: Rule
    state: RuleState
    matched: int
    detail: str


@dataclass(frozen=True)
class Comparison:
    environments: list[str]
    results: list[PathResult]
    rules: list[RuleReport]
    overall: Tally
    pairs: dict[tuple[str, str], Tally]
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def differences(self) -> list[PathResult]:
        return [r for r in self.results if r.classification is not Classification.EQUAL]

    @property
    def critical_failures(self) -> list[PathResult]:
        return [r for r in self.results if r.critical and not r.classification.matches]


def resource_of(path: str) -> str:
    return path.split(".", 1)[0].split("[", 1)[0]


def compare(
    stacks: Mapping[str, Mapping[str, Any]], policy: ParityPolicy, today: dt.date
) -> Comparison:
    """Classify every path of the flattened stacks (env -> {path: value})."""
    envs = list(stacks)
    paths = sorted(set().union(*(set(leaves) for leaves in stacks.values())))
    results = []
    matched: dict[int, int] = defaultdict(int)
    broken: dict[int, str] = {}
    for path in paths:
        values = {env: stacks[env].get(path, ABSENT) for env in envs}
        result = _classify(path, values, policy, today)
        if result.rule_index is not None:
            index = result.rule_index
            matched[index] += 1
            if result.classification is not Classification.DECLARED and index not in broken:
                broken[index] = f"{path}: {result.reason}"
        results.append(result)
    return Comparison(
        environments=envs,
        results=results,
        rules=_rule_reports(policy, matched, broken, today),
        overall=_tally(results),
        pairs=_pairs(envs, results),
        resources=_resources(envs, results),
    )


def _classify(
    path: str, values: dict[str, Any], policy: ParityPolicy, today: dt.date
) -> PathResult:
    critical = policy.is_critical(path)
    present = [v for v in values.values() if v is not ABSENT]
    if len(present) == len(values) and all(_equal(v, present[0]) for v in present[1:]):
        return PathResult(path, values, Classification.EQUAL, critical)
    fallback = Classification.MISSING if len(present) < len(values) else Classification.UNDECLARED
    found = policy.rule_for(path)
    if found is None:
        return PathResult(path, values, fallback, critical)
    index, rule = found
    if rule.expired(today):
        reason = f"rule expired on {rule.expires}: {rule.reason}"
        return PathResult(path, values, fallback, critical, rule, reason, index)
    violation = rule.violation(values)
    if violation is not None:
        reason = f"rule broken ({violation}): {rule.reason}"
        return PathResult(path, values, fallback, critical, rule, reason, index)
    return PathResult(path, values, Classification.DECLARED, critical, rule, rule.reason, index)


def _equal(left: Any, right: Any) -> bool:
    return type(left) is type(right) and bool(left == right)


def _tally(results: list[PathResult]) -> Tally:
    return Tally.of(r.classification for r in results)


def _pairs(envs: list[str], results: list[PathResult]) -> dict[tuple[str, str], Tally]:
    """Per pair: a path both have with one value is equal; otherwise its N-way class."""
    pairs = {}
    for left, right in itertools.combinations(envs, 2):
        counts = {c: 0 for c in Classification}
        for result in results:
            a, b = result.values[left], result.values[right]
            if a is ABSENT and b is ABSENT:
                continue
            if a is not ABSENT and b is not ABSENT and _equal(a, b):
                counts[Classification.EQUAL] += 1
            elif result.classification is Classification.EQUAL:
                counts[Classification.UNDECLARED] += 1  # cannot happen: equal means all agree
            else:
                counts[result.classification] += 1
        pairs[(left, right)] = Tally(**{c.value: n for c, n in counts.items()})
    return pairs


def _resources(envs: list[str], results: list[PathResult]) -> dict[str, dict[str, Any]]:
    grouped: dict[str, list[PathResult]] = defaultdict(list)
    for result in results:
        grouped[result.resource].append(result)
    resources = {}
    for name, group in sorted(grouped.items()):
        type_ = next((r.values for r in group if r.path == f"{name}.@type"), {})
        resources[name] = {
            "type": next((v for v in type_.values() if v is not ABSENT), None),
            "present": {env: type_.get(env, ABSENT) is not ABSENT for env in envs},
            "tally": _tally(group),
        }
    return resources


def _rule_reports(
    policy: ParityPolicy, matched: dict[int, int], broken: dict[int, str], today: dt.date
) -> list[RuleReport]:
    reports = []
    for index, rule in enumerate(policy.rules):
        count = matched.get(index, 0)
        if rule.expired(today):
            state, detail = RuleState.EXPIRED, f"expired on {rule.expires}"
        elif count == 0:
            state, detail = RuleState.STALE, "matches no differing path: remove it"
        elif index in broken:
            state, detail = RuleState.BROKEN, broken[index]
        else:
            state, detail = RuleState.ACTIVE, f"declares {count} path{'s' if count != 1 else ''}"
        reports.append(RuleReport(rule, state, count, detail))
    return reports
