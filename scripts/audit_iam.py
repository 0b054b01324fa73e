"""Audit the IAM policies in docs/iam/ with parliament, offline; exit 1 on any finding.

parliament (https://github.com/duo-labs/parliament) checks each statement against its bundled
copy of AWS's Service Authorization Reference. Its own suppression file cannot be used:
`ignore_locations` never matches in 1.6 (its `make_list` turns a YAML list into `[]`, see
duo-labs/parliament#147), so the one justified suppression lives here, matched by the finding's
exact detail rather than by a line number.

Exit 0 when clean, 1 on any finding (one line each), 2 when a file is not a policy document
(one line on stderr).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from parliament import analyze_policy_string, enhance_finding

# elasticloadbalancing:ModifyListener and DeleteListener take a listener/app OR a listener/net
# ARN (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awselasticloadbalancingv2.html),
# but parliament requires every resource type it lists to match. shipyard only has ALB
# listeners: granting listener/net too would widen the policies just to quiet the linter.
JUSTIFIED = {
    (
        "RESOURCE_MISMATCH",
        f"elasticloadbalancing:{action}",
        "arn:*:elasticloadbalancing:*:*:listener/net/*/*/*",
    )
    for action in ("ModifyListener", "DeleteListener")
}
# iam:PassRole only for the roles the program creates, under their own path (components/), and
# only to ECS tasks. A narrower per-environment path (role/shipyard/prod/*) passes too.
PASS_ROLE = "iam:passrole"
PASS_ROLE_RESOURCE = "arn:aws:iam::*:role/shipyard/*"
UNDER_THE_PATH = re.compile(r"arn:aws:iam::(\*|[0-9]{12}):role/shipyard/.*")
PASSED_TO = ("iam:passedtoservice", "ecs-tasks.amazonaws.com")


class PolicyShapeError(Exception):
    """A file that is not an IAM policy document this script can read."""


def findings(path: Path) -> list[str]:
    """parliament's findings for one policy file, less the justified ones, plus shipyard's own
    rule for iam:PassRole."""
    try:
        text = path.read_text(encoding="utf-8")
        statements = _statements(json.loads(text))
    except (OSError, ValueError, RecursionError) as exc:
        raise PolicyShapeError(f"{path}: cannot read it as an IAM policy: {exc}") from None
    found = []
    try:
        analysed = analyze_policy_string(text, str(path)).findings
    except Exception as exc:  # parliament raises its own types on shapes IAM would refuse
        raise PolicyShapeError(
            f"{path}: not an IAM policy parliament can read ({type(exc).__name__}: {exc})"
        ) from None
    for finding in analysed:
        finding = enhance_finding(finding)
        if _justified(finding.issue, finding.detail):
            continue
        found.append(f"{path}: {finding.severity} {finding.issue} {finding.detail}")
    for index, statement in enumerate(statements):
        problem = pass_role_problem(statement)
        if problem:
            where = statement.get("Sid", f"Statement[{index}]")
            found.append(f"{path}: {where}: {problem}")
    return found


def _statements(document: Any) -> list[dict[str, Any]]:
    statements = document.get("Statement") if isinstance(document, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not all(isinstance(s, dict) for s in statements):
        raise ValueError("'Statement' must be an object or a list of objects")
    return statements


def _strings(value: Any) -> list[str]:
    """A policy element's strings; anything else IAM would refuse is a shape error."""
    if isinstance(value, str):
        return [value]
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PolicyShapeError(f"expected a string or a list of strings, got {value!r}"[:200])
    return list(value)


def matches_pass_role(pattern: str) -> bool:
    """Whether an action pattern grants iam:PassRole: IAM matches actions case-insensitively,
    `*` any run of characters and `?` one
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html)."""
    regex = re.escape(pattern.lower()).replace(r"\*", ".*").replace(r"\?", ".")
    return re.fullmatch(regex, PASS_ROLE) is not None


def pass_role_problem(statement: dict[str, Any]) -> str | None:
    """Why an Allow statement grants iam:PassRole wider than the program's roles to ECS tasks."""
    if statement.get("Effect") != "Allow":
        return None
    for negated in ("NotAction", "NotResource"):
        if negated in statement:
            return (
                f"Allow with {negated} grants everything it does not list, iam:PassRole on "
                "any role included; list Action and Resource instead"
            )
    if not any(matches_pass_role(a) for a in _strings(statement.get("Action"))):
        return None
    resources = _strings(statement.get("Resource"))
    if not resources or not all(UNDER_THE_PATH.fullmatch(r) for r in resources):
        return (
            f"iam:PassRole on {statement.get('Resource')!r}: grant only {PASS_ROLE_RESOURCE!r} "
            "(or one environment's path under it), the path the program's roles are created "
            "under"
        )
    if not _passed_to_ecs_tasks(statement.get("Condition")):
        return (
            "iam:PassRole without the condition StringEquals iam:PassedToService "
            f"{PASSED_TO[1]!r}: any service could be handed the roles; add it"
        )
    return None


def _passed_to_ecs_tasks(condition: Any) -> bool:
    """The condition limits the passed role to ECS tasks (condition keys are case-insensitive,
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition.html)."""
    equals = condition.get("StringEquals") if isinstance(condition, dict) else None
    if not isinstance(equals, dict):
        return False
    values = [v for k, v in equals.items() if k.lower() == PASSED_TO[0]]
    return len(values) == 1 and set(_strings(values[0])) == {PASSED_TO[1]}


def _justified(issue: str, detail: Any) -> bool:
    if not isinstance(detail, list) or not detail:
        return False
    return all(
        isinstance(item, dict)
        and (issue, item.get("action"), item.get("required_format")) in JUSTIFIED
        for item in detail
    )


def main(paths: list[str]) -> int:
    """Exit 1 on any finding, 2 when a file is not a policy this script can read."""
    problems = []
    for path in paths:
        try:
            problems.extend(findings(Path(path)))
        except PolicyShapeError as exc:
            where = "" if str(exc).startswith(path) else f"{path}: "
            print(f"{where}{exc}", file=sys.stderr)
            return 2
    for line in problems:
        print(line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
