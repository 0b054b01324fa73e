"""docs/iam/shipyard-infrastructure-policy.json grants what `pulumi up` of the program needs.

The committed stacks are rendered under the mocks; every AWS resource type they register must
have a row in tests/infra_actions.py (the calls its create/read/update/delete makes, cited),
and the policy must grant each row and nothing else. A new resource type in components/ fails
here until the table and the policy grow.
"""

from __future__ import annotations

import fnmatch
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from components.blue_green_service import EXECUTION_POLICY, ROLE_PATH
from parity.render import RenderedStack
from tests.conftest import REPO
from tests.iam import POLICY as DEPLOYER_POLICY
from tests.infra_actions import ACTIONS, IMPLIED, LEDGER
from tests.unit.test_iam_policy import _audit

POLICY = REPO / "docs" / "iam" / "shipyard-infrastructure-policy.json"


@cache
def statements(path: Path = POLICY) -> tuple[dict[str, Any], ...]:
    return tuple(json.loads(path.read_text(encoding="utf-8"))["Statement"])


def _listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def granted() -> dict[str, list[dict[str, Any]]]:
    """Action -> the statements that grant it."""
    by_action: dict[str, list[dict[str, Any]]] = {}
    for statement in statements():
        assert statement["Effect"] == "Allow"
        for action in _listed(statement["Action"]):
            by_action.setdefault(action, []).append(statement)
    return by_action


def registered_types(rendered: dict[str, RenderedStack]) -> set[str]:
    """Every provider resource type in the stacks (components, `shipyard:*`, call nothing)."""
    types = {r["type"] for stack in rendered.values() for r in stack.resources}
    return {t for t in types if not t.startswith("shipyard:")}


def test_every_resource_type_the_program_registers_has_its_actions(
    rendered: dict[str, RenderedStack],
) -> None:
    types = registered_types(rendered)
    assert "aws:ec2/natGateway:NatGateway" in types  # staging and prod: all three rendered
    missing = sorted(types - set(ACTIONS))
    assert not missing, f"add a row to tests/infra_actions.py and the policy for {missing}"


def test_the_policy_grants_every_call_pulumi_makes(rendered: dict[str, RenderedStack]) -> None:
    have = granted()
    needed = {(action, type_) for type_ in registered_types(rendered) for action in ACTIONS[type_]}
    missing = sorted(f"{action} ({type_})" for action, type_ in needed if action not in have)
    assert not missing, missing


def test_the_policy_grants_nothing_the_program_does_not_need() -> None:
    needed = {a for actions in ACTIONS.values() for a in actions} | IMPLIED | LEDGER
    assert not sorted(set(granted()) - needed)


def test_role_management_is_only_under_the_programs_path() -> None:
    """The infrastructure role cannot create, change or pass a role outside /shipyard/ (an
    admin role elsewhere), nor attach any managed policy but ECS's task-execution one."""
    iam = {a: s for a, ss in granted().items() if a.startswith("iam:") for s in ss}
    for action, statement in iam.items():
        if action == "iam:CreateServiceLinkedRole":
            assert statement["Resource"] == "arn:aws:iam::*:role/aws-service-role/*"
            assert statement["Condition"]["StringEquals"]["iam:AWSServiceName"] == [
                "ecs.amazonaws.com",
                "elasticloadbalancing.amazonaws.com",
            ]
        else:
            assert statement["Resource"] == f"arn:aws:iam::*:role{ROLE_PATH}*", action
    for action in ("iam:AttachRolePolicy", "iam:DetachRolePolicy"):
        # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#ck_policyarn
        assert iam[action]["Condition"] == {"ArnEquals": {"iam:PolicyARN": EXECUTION_POLICY}}
    assert iam["iam:PassRole"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
    }


def test_the_program_attaches_only_the_policy_the_condition_allows(
    rendered: dict[str, RenderedStack],
) -> None:
    attached = {
        r["inputs"]["policyArn"]
        for stack in rendered.values()
        for r in stack.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    }
    assert attached == {EXECUTION_POLICY}


@pytest.mark.parametrize(
    ("role_arn", "allowed"),
    [
        # What CreateRole makes of the program's path (/shipyard/<env>/) and an autoname.
        ("arn:aws:iam::123456789012:role/shipyard/prod/web-execution-role-1a2b3c4", True),
        # A user's mistake: a role without the path, or an admin role, is refused.
        ("arn:aws:iam::123456789012:role/web-execution-role-1a2b3c4", False),
        ("arn:aws:iam::123456789012:role/admin", False),
        ("arn:aws:iam::123456789012:role/other/shipyard/admin", False),
    ],
)
def test_create_role_matches_only_the_programs_path(role_arn: str, allowed: bool) -> None:
    """IAM's `*` spans "/" (fnmatchcase is the same rule without character classes):
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html#reference_policies_elements_resource_wildcards"""
    (statement,) = granted()["iam:CreateRole"]
    assert fnmatch.fnmatchcase(role_arn, statement["Resource"]) is allowed


def test_the_program_creates_every_role_under_that_path(
    rendered: dict[str, RenderedStack],
) -> None:
    for env, stack in rendered.items():
        for role in stack.of_type("aws:iam/role:Role"):
            assert role["inputs"]["path"] == f"{ROLE_PATH}{env}/", role["name"]


def test_writes_are_scoped_where_iam_allows_it() -> None:
    """Resource "*" only for reads (and DeregisterTaskDefinition) that the Service
    Authorization Reference lists without a resource type; parliament checks the rest."""
    for statement in statements():
        if statement["Resource"] != "*":
            continue
        for action in _listed(statement["Action"]):
            verb = action.split(":")[1]
            assert verb.startswith(("Describe", "List", "Get")) or action == (
                "ecs:DeregisterTaskDefinition"
            ), action


def test_the_ledger_statements_match_the_deployers() -> None:
    """`rollback --stack-version` records in the ledger under this role: the same bucket."""

    def resources(path: Path, action: str) -> set[str]:
        return {
            r
            for s in statements(path)
            if action in _listed(s["Action"])
            for r in _listed(s["Resource"])
        }

    for action in LEDGER:
        ledger = resources(DEPLOYER_POLICY, action)
        assert ledger and ledger <= resources(POLICY, action), action


def test_parliament_finds_nothing_in_the_policy(tmp_path: Path) -> None:
    result = _audit(json.loads(POLICY.read_text(encoding="utf-8")), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_audit_fails_when_role_management_spreads(tmp_path: Path) -> None:
    """The regression to catch: PassRole on every role in the account."""
    policy = json.loads(POLICY.read_text(encoding="utf-8"))
    (statement,) = [s for s in policy["Statement"] if s["Action"] == "iam:PassRole"]
    statement["Resource"] = "arn:aws:iam::*:role/*"
    result = _audit(policy, tmp_path)
    assert result.returncode == 1 and "iam:PassRole" in result.stdout, result.stdout
