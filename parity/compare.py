"""Compare normalised stacks with deepdiff, N-way and pairwise; classify; score over settings.

deepdiff finds what differs between each pair of environments (dicts by key; lists that are not
keyed, as multisets: `ignore_order` with `report_repetition`, and `cutoff_distance_for_pairs=0`
so a changed item is one removed and one added item, never a string of shifted "changed"
leaves). Each report is mapped back to the leaves it covers, and every differing leaf is
classified across all environments:

- `declared`: a live rule in stacks/parity.yaml matches and its values keep the rule's relation;
- `missing`: some environment lacks the path and no rule declares that;
- `undeclared`: anything else, including a rule that expired or whose relation is broken, and
  any value that names another environment without an allowance (which is also critical).

Settings (parity.normalise) are scored: a setting is identical when none of its leaves differ,
declared when every differing leaf is declared, undeclared otherwise.

    score        = (identical + declared) / settings
    raw identity = identical / settings

A pair's score uses only that pair's differences, judged by the rules on that pair's values.
A rule whose pattern matches more than half of all settings is a catch-all: it declares nothing
and the run says so.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from deepdiff import DeepDiff

from parity.normalise import NormalisedStack, item_id, join
from parity.policy import ABSENT, Allowance, ParityPolicy, Rule, RuleMatcher, glob

CATCH_ALL_SHARE = 0.5


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
    CATCH_ALL = "catch-all"


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
    allowance: Allowance | None = None


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
class RuleReport:
    rule: Rule
    state: RuleState
    matched: int
    detail: str


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

    @property
    def differences(self) -> list[PathResult]:
        return [r for r in self.results if r.classification is not Classification.EQUAL]

    @property
    def critical_failures(self) -> list[PathResult]:
        return [r for r in self.results if r.critical and not r.classification.matches]

    @property
    def catch_alls(self) -> list[RuleReport]:
        return [r for r in self.rules if r.state is RuleState.CATCH_ALL]


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
    catch_all = _catch_alls(policy, all_settings)
    matcher = policy.matcher(frozenset(catch_all))

    pair_paths = {
        (left, right): _differing(stacks[left], stacks[right])
        for left, right in itertools.combinations(envs, 2)
    }
    references: dict[str, dict[str, list[str]]] = defaultdict(dict)
    for env, stack in stacks.items():
        for path, named in stack.references.items():
            references[path][env] = named
    differing = set().union(*pair_paths.values(), references, extra)

    results: list[PathResult] = []
    matched: dict[int, int] = defaultdict(int)
    broken: dict[int, str] = {}
    for path in sorted(differing):
        if path in extra:
            values = extra[path].values
        else:
            values = {env: stacks[env].leaves.get(path, ABSENT) for env in envs}
        result = _classify(
            path,
            resource_of[path],
            settings_of[path],
            values,
            references.get(path, {}),
            policy,
            matcher,
            today,
        )
        if result.rule_index is not None:
            matched[result.rule_index] += 1
            if result.classification is not Classification.DECLARED:
                broken.setdefault(result.rule_index, f"{path}: {result.reason}")
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
        rules=_rule_reports(policy, matched, broken, catch_all, all_settings, today),
        overall=Tally.of(by_setting.values()),
        pairs=_pairs(stacks, pair_paths, results, policy, matcher, today, extra),
        resources=_resources(stacks, by_resource_setting, resource_setting_of, resource_of),
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


def _differing(left: NormalisedStack, right: NormalisedStack) -> set[str]:
    """The leaf paths whose values differ between two stacks, as deepdiff finds them."""
    diff = DeepDiff(
        left.tree,
        right.tree,
        ignore_order=True,
        report_repetition=True,
        cutoff_distance_for_pairs=0,
        threshold_to_diff_deeper=0,
        view="tree",
    )
    found: set[str] = set()
    sorted_left, sorted_right = sorted(left.leaves), sorted(right.leaves)
    for report_type, items in diff.items():
        side = right.tree if report_type.endswith("_added") else left.tree
        for item in items:
            prefixes = _prefixes(side, item.path(output_format="list"))
            for prefix in prefixes:
                if prefix in left.leaves or prefix in right.leaves:
                    found.add(prefix)
            found.update(_under(prefixes[-1], sorted_left))
            found.update(_under(prefixes[-1], sorted_right))
    return found


def _prefixes(tree: Any, keys: list[Any]) -> list[str]:
    """The path strings along a deepdiff path: a list index becomes its item's name."""
    node = tree
    path = ""
    out: list[str] = []
    for key in keys:
        if isinstance(node, list) and isinstance(key, int):
            item = node[key] if key < len(node) else None
            path = join(path, item_id(item))
            out.append(path)
            break  # a multiset item is compared whole
        path = str(key) if not path else join(path, str(key))
        out.append(path)
        node = node.get(key) if isinstance(node, dict) else None
    return out


def _under(prefix: str, sorted_paths: list[str]) -> list[str]:
    found = []
    index = bisect.bisect_left(sorted_paths, prefix)
    while index < len(sorted_paths) and sorted_paths[index].startswith(prefix):
        path = sorted_paths[index]
        if len(path) == len(prefix) or path[len(prefix)] in ".[":
            found.append(path)
        index += 1
    return found


def _classify(
    path: str,
    resource: str,
    setting: str,
    values: dict[str, Any],
    references: dict[str, list[str]],
    policy: ParityPolicy,
    matcher: RuleMatcher,
    today: dt.date,
) -> PathResult:
    critical = policy.is_critical(path)
    unallowed, allowance = _references(path, references, policy, today)
    if unallowed:
        named = "; ".join(f"{env} names {', '.join(names)}" for env, names in unallowed.items())
        reason = (
            f"{named}: a reference to another environment; fix the value, or allow it under "
            "crossEnvironment in parity.yaml with a reason"
        )
        return PathResult(
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
    present = [v for v in values.values() if v is not ABSENT]
    if len(present) == len(values) and all(_equal(v, present[0]) for v in present[1:]):
        klass = Classification.DECLARED if allowance else Classification.EQUAL
        return PathResult(
            path,
            resource,
            setting,
            values,
            klass,
            critical,
            None,
            allowance.reason if allowance else None,
            references=references,
            allowance=allowance,
        )
    if allowance is not None:
        return PathResult(
            path,
            resource,
            setting,
            values,
            Classification.DECLARED,
            critical,
            None,
            allowance.reason,
            references=references,
            allowance=allowance,
        )
    fallback = Classification.MISSING if len(present) < len(values) else Classification.UNDECLARED
    found = matcher.rule_for(path)
    if found is None:
        return PathResult(path, resource, setting, values, fallback, critical)
    index, rule = found
    why_not = _why_not(rule, values, today)
    klass = Classification.DECLARED if why_not is None else fallback
    reason = why_not or rule.reason
    return PathResult(path, resource, setting, values, klass, critical, rule, reason, index)


def _references(
    path: str, references: dict[str, list[str]], policy: ParityPolicy, today: dt.date
) -> tuple[dict[str, list[str]], Allowance | None]:
    """The references no allowance covers (env -> names), and an allowance that covered one."""
    unallowed: dict[str, list[str]] = {}
    allowance = None
    for env, names in references.items():
        for named in names:
            found = policy.allowance_for(path, env, named, today)
            if found is None:
                unallowed.setdefault(env, []).append(named)
            else:
                allowance = found
    return unallowed, allowance


def _why_not(rule: Rule, values: dict[str, Any], today: dt.date) -> str | None:
    """Why the rule does not declare these values, or None when it does."""
    if rule.expired(today):
        return f"rule expired on {rule.expires}: {rule.reason}"
    violation = rule.violation(values)
    if violation is not None:
        return f"rule broken ({violation}): {rule.reason}"
    return None


def _equal(left: Any, right: Any) -> bool:
    return type(left) is type(right) and bool(left == right)


def _pairs(
    stacks: Mapping[str, NormalisedStack],
    pair_paths: Mapping[tuple[str, str], set[str]],
    results: list[PathResult],
    policy: ParityPolicy,
    matcher: RuleMatcher,
    today: dt.date,
    extra: Mapping[str, Extra],
) -> dict[tuple[str, str], Tally]:
    """Per pair: its own settings, its own differences, the rules judged on its own values."""
    by_path = {r.path: r for r in results}
    pairs = {}
    for (left, right), paths in pair_paths.items():
        a, b = stacks[left], stacks[right]
        settings = {*a.settings.values(), *b.settings.values(), *extra}
        classes = {s: Classification.EQUAL for s in settings}
        candidates = paths | {
            p for p, r in by_path.items() if left in r.references or right in r.references
        }
        candidates |= {p for p, e in extra.items() if e.values[left] != e.values[right]}
        for path in candidates:
            result = by_path[path]
            values = {left: result.values[left], right: result.values[right]}
            refs = {e: n for e, n in result.references.items() if e in (left, right)}
            pair_result = _classify(
                path, result.resource, result.setting, values, refs, policy, matcher, today
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


def _catch_alls(policy: ParityPolicy, settings: set[str]) -> set[int]:
    """Rules whose pattern matches more than half of all settings declare nothing."""
    if not settings:
        return set()
    found = set()
    for index, rule in enumerate(policy.rules):
        pattern = glob(rule.path)
        hits = sum(1 for s in settings if pattern.match(s) or pattern.match(s + ".x"))
        if hits > CATCH_ALL_SHARE * len(settings):
            found.add(index)
    return found


def _rule_reports(
    policy: ParityPolicy,
    matched: dict[int, int],
    broken: dict[int, str],
    catch_all: set[int],
    settings: set[str],
    today: dt.date,
) -> list[RuleReport]:
    reports = []
    for index, rule in enumerate(policy.rules):
        count = matched.get(index, 0)
        if index in catch_all:
            state = RuleState.CATCH_ALL
            detail = (
                f"matches more than {CATCH_ALL_SHARE:.0%} of the {len(settings)} settings, so it "
                "declares nothing: declare each difference on its own path"
            )
        elif rule.expired(today):
            state, detail = RuleState.EXPIRED, f"expired on {rule.expires}"
        elif count == 0:
            state, detail = RuleState.STALE, "matches no differing path: remove it"
        elif index in broken:
            state, detail = RuleState.BROKEN, broken[index]
        else:
            state, detail = RuleState.ACTIVE, f"declares {count} path{'s' if count != 1 else ''}"
        reports.append(RuleReport(rule, state, count, detail))
    return reports
