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
A rule other than `any: true` is also an assertion: where its values break it, an identical path
is undeclared too (prod's protocol is HTTPS, says the rule; if prod's TLS is gone, that is a
finding). A value naming another environment is allowed by a `crossEnvironment` entry, which
only allows the reference: the values must still be declared by a rule, and such a path is
critical. A critical path is declared only by a rule that names its setting's own key
(`*-tg.healthCheck.*`, never `w*` nor `stack-config.deploy.*`).

Breadth: a rule or an allowance whose pattern matches more than RULE_SHARE of all settings (and
more than BREADTH_FLOOR of them) is a catch-all and declares nothing; rules that together match
more than POLICY_SHARE of all settings (and more than BREADTH_FLOOR) make the run fail. Both
say so in the report.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from deepdiff import DeepDiff

from parity.normalise import STACK_CONFIG, TAGS_SETTING, NormalisedStack, item_id, join
from parity.policy import ABSENT, ParityPolicy, Rule, glob, share_text

_PADDING = (TAGS_SETTING + ".", f"{STACK_CONFIG}.tags.", f"{STACK_CONFIG}.pulumiConfig.")
RULE_SHARE = 0.10
POLICY_SHARE = 0.50
# Below this many settings a pattern is never too broad: in a small stack one resource's rule
# is a large share of everything.
BREADTH_FLOOR = 20
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_:-]*")
# An identity field inside a keyed list's name: `[name=` says nothing about the property.
_IDENTITY = re.compile(r"\[(?:name|type|arn|targetGroupArn)=|[\[\]=,]")


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
    """A rule's or a cross-environment allowance's state in this run."""

    path: str
    relation: str
    reason: str
    owner: str
    expires: dt.date | None
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
        (left, right): _differing(stacks[left], stacks[right])
        for left, right in itertools.combinations(envs, 2)
    }
    references: dict[str, dict[str, list[str]]] = defaultdict(dict)
    for env, stack in stacks.items():
        for path, named in stack.references.items():
            references[path][env] = named
    differing = set().union(*pair_paths.values(), references, extra)
    # Text the same in every environment as written (`production and test listeners` where an
    # environment is called production): the own-name token made it look different, but it is
    # one value. (A reference in it is still judged: `references` are classified below.)
    constant = set()
    for path in sorted(differing - set(extra) - set(references)):
        raw = [_as_written(stacks[env].leaves.get(path, ABSENT), env) for env in envs]
        if ABSENT not in raw and all(_equal(r, raw[0]) for r in raw[1:]):
            constant.add(path)
    differing -= constant

    def values_at(path: str) -> dict[str, Any]:
        if path in extra:
            return dict(extra[path].values)
        return {env: stacks[env].leaves.get(path, ABSENT) for env in envs}

    results: list[PathResult] = []
    for path in sorted(differing | judge.asserted(set(settings_of) - differing - constant)):
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


class Judge:
    """The policy applied to one run: which rules and allowances are live, and what each
    declared (rules and allowances too broad to mean anything are left out)."""

    def __init__(self, policy: ParityPolicy, today: dt.date, settings_of: Mapping[str, str]):
        self.policy = policy
        self.today = today
        # Breadth is measured against the stack's structure: tags and Pulumi config keys are
        # left out, so adding a thousand of them cannot make a broad rule look narrow.
        settings_of = {p: s for p, s in settings_of.items() if not s.startswith(_PADDING)}
        total = len(set(settings_of.values())) or 1
        self.rule_share = [_share(rule.path, settings_of, total) for rule in policy.rules]
        self.allowance_share = [
            _share(a.path, settings_of, total) for a in policy.cross_environment
        ]
        broad = RULE_SHARE if total > BREADTH_FLOOR else 1.0
        catch_all = frozenset(i for i, share in enumerate(self.rule_share) if share > broad)
        self.catch_all = catch_all
        self.broad_allowances = {j for j, share in enumerate(self.allowance_share) if share > broad}
        self.matcher = policy.matcher(catch_all)
        covered: set[str] = set()
        for index, rule in enumerate(policy.rules):
            if index not in catch_all:
                pattern = glob(rule.path)
                covered |= {s for p, s in settings_of.items() if pattern.match(p)}
        self.policy_share = len(covered) / total if total > BREADTH_FLOOR else 0.0
        self.matched: dict[int, int] = defaultdict(int)
        self.broken: dict[int, str] = {}
        self.allowed: dict[int, int] = defaultdict(int)

    def asserted(self, paths: set[str]) -> set[str]:
        """Paths that do not differ but that a rule other than `any` speaks about: the rule may
        still be broken there."""
        found = set()
        for path in paths:
            rule = self.matcher.rule_for(path)
            if rule is not None and not rule[1].any:
                found.add(path)
        return found

    def unallowed(
        self, path: str, references: Mapping[str, list[str]], count: bool
    ) -> dict[str, list[str]]:
        """The references no live allowance covers (env -> names)."""
        open_: dict[str, list[str]] = {}
        for env, names in references.items():
            for named in names:
                index = next(
                    (
                        j
                        for j, a in enumerate(self.policy.cross_environment)
                        if j not in self.broad_allowances and a.allows(path, env, named, self.today)
                    ),
                    None,
                )
                if index is None:
                    open_.setdefault(env, []).append(named)
                elif count:
                    self.allowed[index] += 1
        return open_

    def note(self, result: PathResult) -> None:
        if result.rule_index is None:
            return
        self.matched[result.rule_index] += 1
        if result.classification is not Classification.DECLARED:
            self.broken.setdefault(result.rule_index, f"{result.path}: {result.reason}")

    def reports(self, settings: int) -> list[RuleReport]:
        reports = []
        for index, rule in enumerate(self.policy.rules):
            count = self.matched.get(index, 0)
            if index in self.catch_all:
                state, detail = RuleState.CATCH_ALL, self._too_broad(self.rule_share[index])
            elif rule.expired(self.today):
                state, detail = RuleState.EXPIRED, f"expired on {rule.expires}"
            elif count == 0:
                state, detail = RuleState.STALE, "matches no differing path: remove it"
            elif index in self.broken:
                state, detail = RuleState.BROKEN, self.broken[index]
            else:
                state = RuleState.ACTIVE
                detail = f"declares {count} path{'s' if count != 1 else ''}"
            reports.append(
                RuleReport(
                    rule.path,
                    rule.relation,
                    rule.reason,
                    rule.owner,
                    rule.expires,
                    state,
                    count,
                    detail,
                )
            )
        for index, allowance in enumerate(self.policy.cross_environment):
            count = self.allowed.get(index, 0)
            if index in self.broad_allowances:
                state = RuleState.CATCH_ALL
                detail = self._too_broad(self.allowance_share[index])
            elif allowance.expires is not None and allowance.expires < self.today:
                state, detail = RuleState.EXPIRED, f"expired on {allowance.expires}"
            elif count == 0:
                state, detail = RuleState.STALE, "allows no reference: remove it"
            else:
                state = RuleState.ACTIVE
                detail = f"allows {count} reference{'s' if count != 1 else ''}"
            relation = f"{allowance.environment} may name {', '.join(allowance.references)}"
            reports.append(
                RuleReport(
                    allowance.path,
                    relation,
                    allowance.reason,
                    allowance.owner,
                    allowance.expires,
                    state,
                    count,
                    detail,
                )
            )
        return reports

    @staticmethod
    def _too_broad(share: float) -> str:
        return (
            f"matches {share_text(share)} of all settings (more than {RULE_SHARE:.0%}), so it "
            "declares nothing: name the resources and properties it is for"
        )


def _share(pattern_text: str, settings_of: Mapping[str, str], total: int) -> float:
    """The share of all settings with a leaf the pattern matches."""
    pattern = glob(pattern_text)
    return len({s for p, s in settings_of.items() if pattern.match(p)}) / total


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
    equal = len(present) == len(values) and all(_equal(v, present[0]) for v in present[1:])
    found = judge.matcher.rule_for(path)
    if equal and (found is None or found[1].any):
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
    why_not = _why_not(rule, values, judge.today)
    if equal:
        # An identical path a rule speaks about: only a broken rule makes it a finding.
        klass = Classification.EQUAL if why_not is None else Classification.UNDECLARED
        result = PathResult(
            path, resource, setting, values, klass, critical, rule, why_not, index, references
        )
        if count and why_not is not None:
            judge.note(result)
        return result
    if why_not is None and critical and not names_a_property(rule.path, path, setting):
        why_not = (
            f"rule {rule.path!r} does not name this property; a critical path is declared only "
            f"by a rule that names it: {rule.reason}"
        )
    klass = Classification.DECLARED if why_not is None else fallback
    result = PathResult(
        path,
        resource,
        setting,
        values,
        klass,
        critical,
        rule,
        why_not or rule.reason,
        index,
        references,
    )
    if count:
        judge.note(result)
    return result


def names_a_property(rule_path: str, path: str, setting: str) -> bool:
    """Whether a rule's literal text names the setting's own key or something below it
    (`healthCheck`, `path`, a variable's name), not only the resource or the section around it
    (`w*`, `*[*`, `stack-config.deploy.*` name nothing a critical path can be declared by)."""
    head = setting.rsplit(".", 1)[0] if "." in setting else setting
    if path.startswith(setting) and head != setting:
        tail = path[len(head) + 1 :]
    else:  # a tag (its setting is stack-wide) or a stack file: everything after the resource
        tail = path.split(".", 1)[1] if "." in path else path
    words = set(_WORD.findall(_IDENTITY.sub(" ", tail))) - {"value"}
    literal = re.split(r"[*?]", rule_path)
    return any(
        word in words for chunk in literal for word in _WORD.findall(_IDENTITY.sub(" ", chunk))
    )


def _why_not(rule: Rule, values: dict[str, Any], today: dt.date) -> str | None:
    """Why the rule does not declare these values, or None when it does."""
    if rule.expired(today):
        return f"rule expired on {rule.expires}: {rule.reason}"
    violation = rule.violation(values)
    if violation is not None:
        return f"rule broken ({violation}): {rule.reason}"
    return None


_TOKEN = re.compile(r"(?<!\{)\{env\}(?!\})")


def _as_written(value: Any, env: str) -> Any:
    """A normalised value with the environment's own name written back in place of `{env}`."""
    if isinstance(value, str):
        return _TOKEN.sub(env, value).replace("{{env}}", "{env}")
    if isinstance(value, dict):
        return {_as_written(k, env): _as_written(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_written(v, env) for v in value]
    return value


def _equal(left: Any, right: Any) -> bool:
    return type(left) is type(right) and bool(left == right)


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
