"""The policy applied to one run: which rules and allowances are live, what each one matched,
and whether a rule may declare a path.

Breadth: a rule or an allowance whose pattern matches more than RULE_SHARE of all settings (and
more than BREADTH_FLOOR of them) is a catch-all and declares nothing; rules that together match
more than POLICY_SHARE of all settings (and more than BREADTH_FLOOR) make the run fail. Both
say so in the report. A critical path is declared only by a rule that names its setting's own
key or something below it (`*-tg.healthCheck.*`, never `w*` nor `stack-config.deploy.*`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from parity.leaves import TAGS_SETTING
from parity.normalise import STACK_CONFIG
from parity.policy import ParityPolicy, Rule, glob, share_text

_PADDING = (TAGS_SETTING + ".", f"{STACK_CONFIG}.tags.", f"{STACK_CONFIG}.pulumiConfig.")
RULE_SHARE = 0.10
POLICY_SHARE = 0.50
# Below this many settings a pattern is never too broad: in a small stack one resource's rule
# is a large share of everything.
BREADTH_FLOOR = 20
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_:-]*")
# An identity field inside a keyed list's name: `[name=` says nothing about the property.
_IDENTITY = re.compile(r"\[(?:name|type|arn|targetGroupArn)=|[\[\]=,]")


class RuleState(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    BROKEN = "broken"
    STALE = "stale"
    CATCH_ALL = "catch-all"


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
        rule_hits = [_hits(rule.path, settings_of) for rule in policy.rules]
        self.rule_share = [len(hits) / total for hits in rule_hits]
        self.allowance_share = [
            len(_hits(a.path, settings_of)) / total for a in policy.cross_environment
        ]
        broad = RULE_SHARE if total > BREADTH_FLOOR else 1.0
        catch_all = frozenset(i for i, share in enumerate(self.rule_share) if share > broad)
        self.catch_all = catch_all
        self.broad_allowances = {j for j, share in enumerate(self.allowance_share) if share > broad}
        self.matcher = policy.matcher(catch_all)
        covered = set().union(*(hits for i, hits in enumerate(rule_hits) if i not in catch_all))
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

    def note(self, index: int, declared: bool, path: str, reason: str | None) -> None:
        """A rule was applied to a path: it declared it, or says why not."""
        self.matched[index] += 1
        if not declared:
            self.broken.setdefault(index, f"{path}: {reason}")

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


def _hits(pattern_text: str, settings_of: Mapping[str, str]) -> set[str]:
    """The settings with a leaf the pattern matches."""
    pattern = glob(pattern_text)
    return {s for p, s in settings_of.items() if pattern.match(p)}


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


def why_not(rule: Rule, values: dict[str, Any], today: dt.date) -> str | None:
    """Why the rule does not declare these values, or None when it does."""
    if rule.expired(today):
        return f"rule expired on {rule.expires}: {rule.reason}"
    violation = rule.violation(values)
    if violation is not None:
        return f"rule broken ({violation}): {rule.reason}"
    return None
