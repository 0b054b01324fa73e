"""Parity reports built by hand in the JSON shape `report_dict` returns, so the formats are
tested without the engine: scores, counts and failures are whatever the test says."""

from __future__ import annotations

import itertools
import re
from typing import Any

ENVS = ["dev", "staging", "prod"]
# Every C0 control but tab, DEL, two C1 controls (NEL among them), the line and paragraph
# separators, the XML non-characters and a lone surrogate.
CONTROLS = (
    "".join(chr(c) for c in range(0x20) if c != 0x09) + "\x7f\x85\x9b\u2028\u2029\ufffe\uffff\ud800"
)
SCRIPT = "<script>document.title='pwned'</script>"
IMG = "<img src=x onerror=\"document.body.insertAdjacentHTML('beforeend','<b id=pwned>!</b>')\">"
# What a value may hold: markup of every format, an XML CDATA end, quotes, control characters.
HOSTILE = (
    f"{SCRIPT}{IMG} a|b `tick` ``` ]]> &amp; & \"dq\" 'sq' *em* _em_ ~~s~~ # h "
    "[link](javascript:alert(1)) ![i](x) [bold]rich[/bold] \\ " + CONTROLS
)

# What parity says of a rule too broad to declare anything (parity/compare.py).
CATCH_ALL_DETAIL = (
    "matches 45.0% of all settings (more than 10%), so it declares nothing: name the "
    "resources and properties it is for"
)


def resource_of(path: str) -> str:
    return re.split(r"[.\[]", path, maxsplit=1)[0]


def difference(
    path: str,
    values: dict[str, Any],
    classification: str = "undeclared",
    *,
    critical: bool = False,
    cross_environment: dict[str, list[str]] | None = None,
    rule: str | None = None,
    owner: str | None = None,
    reason: str | None = None,
    source: dict[str, str] | None = None,
    envs: list[str] = ENVS,
) -> dict[str, Any]:
    """One difference; an environment missing from `values` does not have the path."""
    return {
        "path": path,
        "resource": resource_of(path),
        "setting": ".".join(path.split(".")[:2]),
        "values": {env: values.get(env) for env in envs},
        "present": {env: env in values for env in envs},
        "classification": classification,
        "critical": critical,
        "cross_environment": cross_environment or {},
        "rule": rule,
        "owner": owner,
        "reason": reason,
        "source": source,
    }


def counts(settings: int, identical: int, declared: int) -> dict[str, Any]:
    undeclared = settings - identical - declared
    return {
        "score": round(100 * (identical + declared) / settings, 2) if settings else None,
        "raw_identity": round(100 * identical / settings, 2) if settings else None,
        "settings": settings,
        "identical": identical,
        "declared": declared,
        "undeclared": undeclared,
    }


def resource(
    name: str,
    type_: str | None = "aws:lb/targetGroup:TargetGroup",
    *,
    envs: list[str] = ENVS,
    settings: int = 7,
    identical: int = 7,
    declared: int = 0,
    names: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "name": name,
        "type": type_,
        "present": {env: True for env in envs},
        "names": names or {env: name for env in envs},
        **counts(settings, identical, declared),
    }


def rule(
    path: str, state: str = "active", *, matched: int = 1, detail: str = "declares 1 path"
) -> dict[str, Any]:
    return {
        "path": path,
        "relation": "any",
        "reason": "because",
        "owner": "web-team",
        "expires": None,
        "state": state,
        "matched": matched,
        "detail": detail,
    }


def report(
    differences: list[dict[str, Any]],
    resources: list[dict[str, Any]] | None = None,
    rules: list[dict[str, Any]] | None = None,
    *,
    envs: list[str] = ENVS,
    settings: int = 100,
    min_score: float = 90.0,
    failures: list[str] | None = None,
) -> dict[str, Any]:
    """A report over `settings` settings: one undeclared setting per undeclared or missing
    difference, one declared per declared, the rest identical. Unless given, the failures are
    one per critical difference needing attention, and one when below the minimum."""
    open_differences = [d for d in differences if d["classification"] != "declared"]
    undeclared = len(open_differences)
    declared = len(differences) - undeclared
    totals = counts(settings, settings - undeclared - declared, declared)
    if failures is None:
        failures = [
            f"critical path {d['path']}: {d['classification']}"
            for d in differences
            if d["critical"] and d["classification"] != "declared"
        ]
        if totals["score"] is not None and totals["score"] < min_score:
            failures.append(f"parity {totals['score']:.2f}% is below the minimum {min_score:g}%")
    if resources is None:
        names = dict.fromkeys(d["resource"] for d in differences)
        resources = [resource(name, envs=envs) for name in names]
    return {
        "environments": envs,
        "generated": "2026-12-01",
        "score": totals["score"],
        "raw_identity": totals["raw_identity"],
        "min_score": min_score,
        "passed": not failures,
        "failures": failures,
        "totals": {
            **totals,
            "differences": len(differences),
            "critical": sum(d["critical"] for d in open_differences),
        },
        "pairs": [
            {"environments": [left, right], **totals}
            for left, right in itertools.combinations(envs, 2)
        ],
        "resources": resources,
        "differences": differences,
        "rules": rules or [],
        "policy_file": "stacks/parity.yaml",
    }


def failing_report() -> dict[str, Any]:
    """prod names staging on a critical path, one plain undeclared, one missing, one declared
    critical difference, a catch-all rule; pseudo resources for the stack config and outputs."""
    differences = [
        difference(
            "web-live-task.containerDefinitions[name=web].environment[name=LOG_LEVEL].value",
            {"dev": "debug", "staging": "info", "prod": "info"},
        ),
        difference(
            "web-live-tg.deregistrationDelay",
            {"dev": 30, "staging": 30, "prod": 60},
            "declared",
            critical=True,
            rule="web-*-tg.deregistrationDelay",
            owner="web-team",
            reason="prod web has long-polling clients that need a longer drain",
        ),
        difference(
            "web-live-task.containerDefinitions[name=web].environment[name=APP_ENV].value",
            {"dev": "dev", "staging": "staging", "prod": "staging"},
            critical=True,
            cross_environment={"prod": ["staging"]},
            source={"prod": "stacks/prod.yaml: services[name=web].environment.APP_ENV"},
        ),
        difference("stack-config.deploy.bakeSeconds", {"dev": 60, "prod": 600}, "missing"),
        difference("stack-outputs.vpcId", {"dev": "vpc-1", "staging": "vpc-2", "prod": "vpc-3"}),
    ]
    resources = [
        resource("web-live-task", "aws:ecs/taskDefinition:TaskDefinition", settings=9, identical=7),
        resource("web-live-tg", settings=7, identical=6, declared=1),
        resource("stack-config", None, settings=20, identical=19),
        resource("stack-outputs", None, settings=4, identical=3),
    ]
    rules = [
        rule("web-*-tg.deregistrationDelay"),
        rule("*", "catch-all", matched=40, detail=CATCH_ALL_DETAIL),
        rule("gone-*.x", "stale", matched=0, detail="matches no path"),
    ]
    return report(differences, resources, rules, settings=40, min_score=95.0)


def hostile_report() -> dict[str, Any]:
    """A failing report in which every string a stack or a policy can put there holds HOSTILE:
    values, paths, resource and environment names, types, reasons, owners, sources, rules."""
    envs = ["dev", f"qa{HOSTILE}", "prod"]

    def hostile(label: str) -> str:
        return f"{label}{HOSTILE}"

    differences = [
        difference(
            f"web-live-task.env[name={HOSTILE}].value",
            {"dev": hostile("v1"), envs[1]: hostile("v2"), "prod": {"nested": HOSTILE}},
            critical=True,
            cross_environment={"prod": [envs[1]]},
            owner=hostile("owner"),
            reason=hostile("reason"),
            source={env: hostile("source") for env in envs},
            envs=envs,
        ),
        difference(
            f"{HOSTILE}.x",
            {"dev": hostile("d1"), "prod": hostile("d2")},
            "declared",
            rule=hostile("rule"),
            owner=hostile("owner"),
            reason=hostile("reason"),
            envs=envs,
        ),
        difference(f"stack-config.{HOSTILE}", {"dev": HOSTILE, envs[1]: 1}, "missing", envs=envs),
    ]
    resources = [
        resource("web-live-task", hostile("t"), envs=envs, names={e: hostile("n") for e in envs}),
        resource(HOSTILE, hostile("type"), envs=envs),
        resource("stack-config", None, envs=envs),
    ]
    catch_all = rule(hostile("rule"), "catch-all", detail=hostile("detail"))
    made = report(differences, resources, [catch_all], envs=envs, failures=[hostile("failure")])
    made["policy_file"] = hostile("policy")
    made["generated"] = hostile("generated")
    return made
