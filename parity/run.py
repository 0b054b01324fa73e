"""`shipyard parity`: render, normalise, compare, explain; the report the formats print."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from parity.compare import Classification, Comparison, Extra, PathResult, compare
from parity.formats import mask_report
from parity.judge import POLICY_SHARE
from parity.normalise import RESERVED_NAMES, normalise_stack
from parity.policy import ABSENT, ParityPolicy, load_policy, share_text
from parity.provenance import Provenance
from parity.render import RenderedStack, render_stack
from shipyard.config.load import LoadedStack, StackSources, load_stack
from shipyard.errors import UsageError
from shipyard.stacks import plan_stack_files

POLICY_FILE = "parity.yaml"
STACK_FILE_PREFIX = "stack-file:"
GENERATED = "generated from stacks/"


@dataclass(frozen=True)
class ParityOptions:
    environments: list[str] = field(default_factory=list)
    min_score: float | None = None
    today: dt.date | None = None


@dataclass(frozen=True)
class ParityReport:
    comparison: Comparison
    min_score: float
    policy_file: str
    sources: dict[str, dict[str, str] | None]
    generated: str

    @property
    def score(self) -> float | None:
        return self.comparison.overall.score

    @property
    def failures(self) -> list[str]:
        """Why the run fails, one line each; empty when it passes."""
        reasons = []
        score = self.score
        if score is None:
            reasons.append("no paths to compare: parity is n/a")
        elif score < self.min_score:
            reasons.append(f"parity {score:.2f}% is below the minimum {self.min_score:g}%")
        for report in self.comparison.catch_alls:
            reasons.append(f"rule {report.path!r} is a catch-all: {report.detail}")
        if self.comparison.policy_too_broad:
            reasons.append(
                f"the rules in {self.policy_file} together match "
                f"{share_text(self.comparison.policy_share)} of all settings (more than "
                f"{POLICY_SHARE:.0%}): a policy that declares most of the stack is a catch-all; "
                "declare each difference on its own path"
            )
        for result in self.comparison.critical_failures:
            if result.references and result.rule is None:
                reasons.append(f"critical path {result.path}: {result.reason}")
            else:
                reasons.append(f"critical path {result.path} is {result.classification.value}")
        return reasons

    @property
    def passed(self) -> bool:
        return not self.failures


def run_parity(
    sources: StackSources,
    options: ParityOptions,
    rendered: dict[str, RenderedStack] | None = None,
) -> ParityReport:
    """Compare the environments' rendered stacks against stacks/parity.yaml."""
    envs = options.environments or sources.environments()
    for env in envs:
        sources.require_environment(env)
    twice = next((env for i, env in enumerate(envs) if env in envs[:i]), None)
    if twice is not None:
        raise UsageError(f"{twice} is named twice; name each environment once")
    if len(envs) < 2:
        raise UsageError(f"parity compares two or more environments (got {', '.join(envs)})")
    policy_path = sources.stacks_dir / POLICY_FILE
    policy = load_policy(policy_path, sources.rel(policy_path))
    known = sources.environments()
    _check_environments(policy, known, sources.rel(policy_path))
    min_score = options.min_score if options.min_score is not None else policy.min_score
    if not 0 <= min_score <= 100:
        raise UsageError(f"--min-score must be 0..100 (got {min_score:g})")
    loaded = {env: load_stack(sources, env) for env in envs}
    _check_names(known, loaded)
    stacks = rendered or {env: render_stack(sources, env) for env in envs}
    names = sorted({*known, *envs})
    normalised = {env: normalise_stack(stacks[env], names, loaded[env]) for env in envs}
    extra = {}
    for file in plan_stack_files(sources, envs, loaded):
        if file.stale:
            # A hand edit of a generated file: what would deploy is not what was reviewed.
            key = f"{STACK_FILE_PREFIX}{file.path}"
            values = {e: file.first_difference() if e == file.env else GENERATED for e in envs}
            extra[key] = Extra(values=values, resource=key)
    today = options.today or dt.date.today()
    comparison = compare(normalised, _with_stack_files_critical(policy), today, extra)
    provenance = Provenance(
        sources,
        loaded,
        {env: n.roles for env, n in normalised.items()},
        {name: info.present for name, info in comparison.resources.items()},
    )
    explained = {
        r.path: provenance.explain(r.path)
        for r in comparison.differences
        if not r.path.startswith(STACK_FILE_PREFIX)
    }
    return ParityReport(
        comparison=comparison,
        min_score=min_score,
        policy_file=sources.rel(policy_path),
        sources=explained,
        generated=today.isoformat(),
    )


def _check_names(known: list[str], loaded: dict[str, LoadedStack]) -> None:
    """Names parity could not tell apart: an environment called like a role, a color or a
    token parity writes, or a service called like an environment."""
    for env in known:
        if env in RESERVED_NAMES:
            words = ", ".join(sorted(RESERVED_NAMES))
            raise UsageError(
                f"environment {env!r}: parity uses that word itself ({words}); rename the "
                "environment to compare it"
            )
    for env, stack in loaded.items():
        for service in stack.config.services:
            if service.name in known:
                raise UsageError(
                    f"{env}: service {service.name!r} has the name of an environment, so parity "
                    "cannot tell a reference to the environment from the service; rename it"
                )


def _check_environments(policy: ParityPolicy, known: list[str], policy_file: str) -> None:
    """Every environment the policy names must exist: a misspelt one in a ratio leaves the rule
    relating one environment (so it never fails), in values it checks nothing, in an allowance
    it allows nothing. Say so instead."""
    for index, rule in enumerate(policy.rules):
        for relation, named in (("ratio", rule.ratio), ("values", rule.values)):
            for env in named or {}:
                if env not in known:
                    raise UsageError(
                        f"{policy_file}: rules[{index}].{relation} names {env!r}, which is not "
                        f"an environment (environments: {', '.join(known)}); fix the name"
                    )
    for index, allowance in enumerate(policy.cross_environment):
        for env in [allowance.environment, *allowance.references]:
            if env not in known:
                raise UsageError(
                    f"{policy_file}: crossEnvironment[{index}] names {env!r}, which is not an "
                    f"environment (environments: {', '.join(known)}); fix the name"
                )
        if allowance.environment in allowance.references:
            raise UsageError(
                f"{policy_file}: crossEnvironment[{index}]: {allowance.environment} references "
                "itself; its own name is never a cross-environment reference: remove it"
            )


def _with_stack_files_critical(policy: ParityPolicy) -> ParityPolicy:
    return policy.model_copy(update={"critical": [*policy.critical, f"{STACK_FILE_PREFIX}*"]})


def show_value(value: Any) -> Any:
    """A value as reports print it: absent paths as None, everything else as is."""
    return None if value is ABSENT else value


def difference_dict(report: ParityReport, result: PathResult) -> dict[str, Any]:
    return {
        "path": result.path,
        "resource": result.resource,
        "setting": result.setting,
        "values": {env: show_value(v) for env, v in result.values.items()},
        "present": {env: v is not ABSENT for env, v in result.values.items()},
        "classification": result.classification.value,
        "critical": result.critical,
        "cross_environment": dict(result.references),
        "rule": result.rule.path if result.rule else None,
        "owner": result.rule.owner if result.rule else None,
        "reason": result.reason,
        "source": report.sources.get(result.path),
    }


def report_dict(report: ParityReport) -> dict[str, Any]:
    """The documented JSON shape (docs/parity.md), secret-shaped values masked."""
    comparison = report.comparison
    overall = comparison.overall.to_dict()
    return mask_report(
        {
            "environments": comparison.environments,
            "generated": report.generated,
            "score": overall["score"],
            "raw_identity": overall["raw_identity"],
            "min_score": report.min_score,
            "passed": report.passed,
            "failures": report.failures,
            "totals": {
                **overall,
                "differences": len(comparison.differences),
                "critical": len(comparison.critical_failures),
            },
            "pairs": [
                {"environments": [left, right], **tally.to_dict()}
                for (left, right), tally in comparison.pairs.items()
            ],
            "resources": [
                {
                    "name": name,
                    "type": info.type,
                    "present": info.present,
                    "names": info.names,
                    **info.tally.to_dict(),
                }
                for name, info in comparison.resources.items()
            ],
            "differences": [difference_dict(report, r) for r in comparison.differences],
            "rules": [
                {
                    "path": rule_report.path,
                    "relation": rule_report.relation,
                    "reason": rule_report.reason,
                    "owner": rule_report.owner,
                    "expires": rule_report.expires.isoformat() if rule_report.expires else None,
                    "state": rule_report.state.value,
                    "matched": rule_report.matched,
                    "detail": rule_report.detail,
                }
                for rule_report in comparison.rules
            ],
            "policy_file": report.policy_file,
        }
    )


__all__ = ["Classification", "ParityOptions", "ParityReport", "report_dict", "run_parity"]
