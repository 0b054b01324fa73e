"""Compare normalised stacks with deepdiff, N-way and pairwise; classify; score over settings.

deepdiff finds what differs between each pair of environments (parity.diff), and every differing
leaf is classified across all environments, with the policy as parity.judge applies it:

- `declared`: a live rule in stacks/parity.yaml matches and its values keep the rule's relation;
- `missing`: some environment lacks the path and no rule declares that;
- `undeclared`: anything else, including a rule that expired or whose relation is broken, and
  any value that names another environment without an allowance (which is also critical).

Settings (parity.normalise) are scored: a setting is identical when none of its leaves differ,
declared when every differing leaf is declared, undeclared otherwise.

    score        = (identical + declared) / settings
    raw identity = identical / settings

A pair's score uses only that pair's differences, judged by the rules on that pair's values.
A rule other than `any: true` is also an assertion: where its values break it, an identical path
is undeclared too (prod's protocol is HTTPS, says the rule; if prod's TLS is gone, that is a
finding). A value naming another environment is allowed by a `crossEnvironment` entry, which
only allows the reference: the values must still be declared by a rule, and such a path is
critical. Too broad a rule declares nothing, and a critical path needs a rule that names it
(parity.judge).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from parity.diff import as_written, differing, same
from parity.judge import (
    POLICY_SHARE,
    Judge,
    RuleReport,
    RuleState,
    names_a_property,
    why_not,
)
from parity.normalise import NormalisedStack
from parity.policy import ABSENT, ParityPolicy, Rule


class Classification(StrEnum):
    EQUAL = "equal"
    DECLARED = "declared"
    UNDECLARED = "undeclared"
    MISSING = "missing"

    @property
    def matches(self) -> bool:
        return self in (Classification.EQUAL, Classification.DECLARED)


@dataclass(frozen=True)
class PathResult:
    path: str
    resource: str
    setting: str
    values: dict[str, Any]
    classification: Classification
    critical: bool
    rule: Rule | None = None
    reason: str | None = None
    rule_index: int | None = None
    references: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Tally:
    """Settings by class, and the two scores (percent, None when there are no settings)."""

    identical: int = 0
    declared: int = 0
    undeclared: int = 0

    @property
    def total(self) -> int:
        return self.identical + self.declared + self.undeclared

    @property
    def score(self) -> float | None:
        if not self.total:
            return None
        return round(100 * (self.identical + self.declared) / self.total, 2)

    @property
    def raw_identity(self) -> float | None:
        return None if not self.total else round(100 * self.identical / self.total, 2)

    @classmethod
    def of(cls, classes: Iterable[Classification]) -> Tally:
        counts = {"identical": 0, "declared": 0, "undeclared": 0}
        for klass in classes:
            if klass is Classification.EQUAL:
                counts["identical"] += 1
            elif klass is Classification.DECLARED:
                counts["declared"] += 1
            else:
                counts["undeclared"] += 1
        return cls(**counts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "raw_identity": self.raw_identity,
            "settings": self.total,
            "identical": self.identical,
            "declared": self.declared,
            "undeclared": self.undeclared,
        }


@dataclass(frozen=True)
class ResourceInfo:
    type: str | None
    present: dict[str, bool]
    names: dict[str, str | None]
    tally: Tally


@dataclass(frozen=True)
class Comparison:
    environments: list[str]
    results: list[PathResult]
    rules: list[RuleReport]
    overall: Tally
    pairs: dict[tuple[str, str], Tally]
    resources: dict[str, ResourceInfo] = field(default_factory=dict)
    policy_share: float = 0.0  # the share of all settings the live rules together match

    @property
    def differences(self) -> list[PathResult]:
        return [r for r in self.results if r.classification is not Classification.EQUAL]

    @property
    def critical_failures(self) -> list[PathResult]:
        return [r for r in self.results if r.critical and not r.classification.matches]

    @property
    def catch_alls(self) -> list[RuleReport]:
        return [r for r in self.rules if r.state is RuleState.CATCH_ALL]

    @property
    def policy_too_broad(self) -> bool:
        return self.policy_share > POLICY_SHARE


@dataclass(frozen=True)
class Extra:
    """A path compared outside the stacks (a hand-edited stack file): its own setting."""

    values: dict[str, Any]
    resource: str


def compare(
    stacks: Mapping[str, NormalisedStack],
    policy: ParityPolicy,
    today: dt.date,
    extra: Mapping[str, Extra] | None = None,
) -> Comparison:
    """Classify every differing path of the normalised stacks (env -> NormalisedStack)."""
    envs = list(stacks)
    extra = dict(extra or {})
    settings_of: dict[str, str] = {}
    resource_setting_of: dict[str, str] = {}
    resource_of: dict[str, str] = {}
    for stack in stacks.values():
        settings_of.update(stack.settings)
        resource_setting_of.update(stack.resource_settings)
        resource_of.update(stack.resource_of)
    for path, item in extra.items():
        settings_of[path] = resource_setting_of[path] = path
        resource_of[path] = item.resource
    all_settings = set(settings_of.values())
    judge = Judge(policy, today, settings_of)

    pair_paths = {
        (left, right): differing(stacks[left], stacks[right])
        for left, right in itertools.combinations(envs, 2)
    }
    references: dict[str, dict[str, list[str]]] = defaultdict(dict)
    for env, stack in stacks.items():
        for path, named in stack.references.items():
            references[path][env] = named
    changed = set().union(*pair_paths.values(), references, extra)
    # Text the same in every environment as written (`production and test listeners` where an
    # environment is called production): the own-name token made it look different, but it is
    # one value. (A reference in it is still judged: `references` are classified below.)
    constant = set()
    for path in sorted(changed - set(extra) - set(references)):
        raw = [as_written(stacks[env].leaves.get(path, ABSENT), env) for env in envs]
        if ABSENT not in raw and all(same(r, raw[0]) for r in raw[1:]):
            constant.add(path)
    changed -= constant

    def values_at(path: str) -> dict[str, Any]:
        if path in extra:
            return dict(extra[path].values)
        return {env: stacks[env].leaves.get(path, ABSENT) for env in envs}

    results: list[PathResult] = []
    for path in sorted(changed | judge.asserted(set(settings_of) - changed - constant)):
        result = _classify(
            path,
            resource_of[path],
            settings_of[path],
            values_at(path),
            references.get(path, {}),
            judge,
        )
        if result.classification is not Classification.EQUAL:
            results.append(result)

    by_setting: dict[str, Classification] = {s: Classification.EQUAL for s in all_settings}
    by_resource_setting: dict[str, Classification] = {
        s: Classification.EQUAL for s in set(resource_setting_of.values())
    }
    for result in results:
        _worsen(by_setting, result.setting, result.classification)
        _worsen(by_resource_setting, resource_setting_of[result.path], result.classification)
    return Comparison(
        environments=envs,
        results=results,
        rules=judge.reports(len(all_settings)),
        overall=Tally.of(by_setting.values()),
        pairs=_pairs(stacks, list(pair_paths), results, judge, extra),
        resources=_resources(stacks, by_resource_setting, resource_setting_of, resource_of),
        policy_share=judge.policy_share,
    )


RANK = {
    Classification.EQUAL: 0,
    Classification.DECLARED: 1,
    Classification.MISSING: 2,
    Classification.UNDECLARED: 2,
}


def _worsen(into: dict[str, Classification], key: str, klass: Classification) -> None:
    if RANK[klass] > RANK[into.get(key, Classification.EQUAL)]:
        into[key] = klass


def _classify(
    path: str,
    resource: str,
    setting: str,
    values: dict[str, Any],
    references: dict[str, list[str]],
    judge: Judge,
    count: bool = True,
) -> PathResult:
    """One path's class across the given environments (all of them, or one pair)."""
    # A value that names another environment, even with an allowance, must be declared.
    critical = judge.policy.is_critical(path) or bool(references)
    unallowed = judge.unallowed(path, references, count)
    if unallowed:
        named = "; ".join(f"{env} names {', '.join(names)}" for env, names in unallowed.items())
        reason = (
            f"{named}: a reference to another environment; fix the value, or allow it under "
            "crossEnvironment in parity.yaml with a reason"
        )
        result = PathResult(
            path,
            resource,
            setting,
            values,
            Classification.UNDECLARED,
            True,
            None,
            reason,
            references=references,
        )
        return result
    present = [v for v in values.values() if v is not ABSENT]
    alike = len(present) == len(values) and all(same(v, present[0]) for v in present[1:])
    found = judge.matcher.rule_for(path)
    if alike and (found is None or found[1].any):
        return PathResult(
            path,
            resource,
            setting,
            values,
            Classification.EQUAL,
            critical,
            references=references,
        )
    fallback = Classification.MISSING if len(present) < len(values) else Classification.UNDECLARED
    if found is None:
        return PathResult(
            path, resource, setting, values, fallback, critical, references=references
        )
    index, rule = found
    objection = why_not(rule, values, judge.today)
    if alike:
        # An identical path a rule speaks about: only a broken rule makes it a finding.
        klass = Classification.EQUAL if objection is None else Classification.UNDECLARED
        result = PathResult(
            path, resource, setting, values, klass, critical, rule, objection, index, references
        )
        if count and objection is not None:
            judge.note(index, False, path, objection)
        return result
    if objection is None and critical and not names_a_property(rule.path, path, setting):
        objection = (
            f"rule {rule.path!r} does not name this property; a critical path is declared only "
            f"by a rule that names it: {rule.reason}"
        )
    klass = Classification.DECLARED if objection is None else fallback
    result = PathResult(
        path,
        resource,
        setting,
        values,
        klass,
        critical,
        rule,
        objection or rule.reason,
        index,
        references,
    )
    if count:
        judge.note(index, klass is Classification.DECLARED, path, result.reason)
    return result


def _pairs(
    stacks: Mapping[str, NormalisedStack],
    pair_names: Iterable[tuple[str, str]],
    results: list[PathResult],
    judge: Judge,
    extra: Mapping[str, Extra],
) -> dict[tuple[str, str], Tally]:
    """Per pair: its own settings, its own differences, the rules judged on its own values."""
    pairs = {}
    for left, right in pair_names:
        a, b = stacks[left], stacks[right]
        settings = {*a.settings.values(), *b.settings.values(), *extra}
        classes = {s: Classification.EQUAL for s in settings}
        # Every path the N-way run found (a difference, a reference, a broken assertion, a
        # hand-edited stack file), judged again on this pair's values alone.
        for result in results:
            path = result.path
            values = {left: result.values[left], right: result.values[right]}
            if all(v is ABSENT for v in values.values()):
                continue
            refs = {e: n for e, n in result.references.items() if e in (left, right)}
            pair_result = _classify(
                path, result.resource, result.setting, values, refs, judge, count=False
            )
            _worsen(classes, result.setting, pair_result.classification)
        pairs[(left, right)] = Tally.of(classes.values())
    return pairs


def _resources(
    stacks: Mapping[str, NormalisedStack],
    by_resource_setting: Mapping[str, Classification],
    resource_setting_of: Mapping[str, str],
    resource_of: Mapping[str, str],
) -> dict[str, ResourceInfo]:
    envs = list(stacks)
    owner = {resource_setting_of[path]: resource for path, resource in resource_of.items()}
    grouped: dict[str, list[Classification]] = defaultdict(list)
    for setting, klass in by_resource_setting.items():
        grouped[owner[setting]].append(klass)
    resources = {}
    for name in sorted(grouped):
        types = [s.types[name] for s in stacks.values() if name in s.types]
        resources[name] = ResourceInfo(
            type=types[0] if types else None,
            present={env: name in stacks[env].tree for env in envs},
            names={env: stacks[env].names.get(name) for env in envs},
            tally=Tally.of(grouped[name]),
        )
    return resources
