"""docs/iam/shipyard-deployer-policy.json grants every AWS call the code makes, and no more.

The code is read, not trusted: every call on a client named after its service (`elbv2`,
`ecs`, `cloudwatch`, `s3`), every paginator and every `_all(client, "operation")` is turned
into its IAM action with botocore's own method-to-operation map. The integration tests check
the same policy against the calls actually made during deploys, rollbacks, drift and the S3
ledger (`calls_within_policy`).
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator

import boto3

from shipyard.aws import iam_action
from tests.conftest import REPO
from tests.iam import IMPLIED, POLICY, not_granted, policy_actions

CLIENTS = ("elbv2", "ecs", "cloudwatch", "s3")
NOT_OPERATIONS = frozenset({"get_paginator", "meta", "exceptions", "can_paginate"})
PACKAGES = ("shipyard", "rollout", "parity", "components", "smoke")


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def calls_in_code() -> Iterator[tuple[str, str, str]]:
    """(client, boto3 method, where) for every AWS call written in the packages."""
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            where = str(path.relative_to(REPO))
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                func = node.func
                first = node.args[0] if node.args else None
                literal = (
                    node.args[1].value
                    if len(node.args) > 1 and isinstance(node.args[1], ast.Constant)
                    else None
                )
                if isinstance(func, ast.Attribute) and _name(func.value) in CLIENTS:
                    client = str(_name(func.value))
                    if func.attr == "get_paginator" and isinstance(first, ast.Constant):
                        yield client, str(first.value), where
                    elif func.attr not in NOT_OPERATIONS:
                        yield client, func.attr, where
                elif (
                    isinstance(func, ast.Name)
                    and func.id == "_all"
                    and first is not None
                    and _name(first) in CLIENTS
                    and isinstance(literal, str)
                ):
                    yield str(_name(first)), literal, where


def actions_in_code() -> dict[str, str]:
    session = boto3.session.Session(
        region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    mapping = {name: session.client(name).meta.method_to_api_mapping for name in CLIENTS}
    actions = {}
    for client, method, where in calls_in_code():
        if method not in mapping[client]:
            continue  # a local variable that shares the name (a dict called `ecs`)
        actions[iam_action(client, mapping[client][method])] = where
    return actions


def test_the_scan_finds_the_calls_it_must() -> None:
    found = actions_in_code()
    for action in (
        "elasticloadbalancing:ModifyListener",
        "ecs:RegisterTaskDefinition",
        "cloudwatch:GetMetricData",
        "s3:ListBucket",
        "ecs:ListServices",
        "cloudwatch:DescribeAlarms",
    ):
        assert action in found, action


def test_the_policy_grants_every_call_the_code_makes() -> None:
    found = actions_in_code()
    missing = not_granted(set(found))
    assert not missing, [f"{action} ({found[action]})" for action in missing]


def test_the_policy_grants_nothing_the_code_does_not_use() -> None:
    unused = policy_actions() - set(actions_in_code()) - IMPLIED
    assert not unused, sorted(unused)


def test_the_policy_is_scoped_where_iam_allows_it() -> None:
    statements = json.loads(POLICY.read_text(encoding="utf-8"))["Statement"]
    by_action = {
        action: statement
        for statement in statements
        for action in ([statement["Action"]] if isinstance(statement["Action"], str)
                       else statement["Action"])
    }  # fmt: skip
    assert by_action["elasticloadbalancing:ModifyListener"]["Condition"] == {
        "Null": {"aws:ResourceTag/shipyard:environment": "false"}
    }
    assert by_action["ecs:UpdateService"]["Resource"] == "arn:aws:ecs:*:*:service/shipyard-*/*"
    assert by_action["iam:PassRole"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
    }
    # Tags on a new revision are authorized as ecs:TagResource; granted for that only.
    # https://docs.aws.amazon.com/AmazonECS/latest/developerguide/supported-iam-actions-tagging.html
    assert by_action["ecs:TagResource"]["Condition"] == {
        "StringEquals": {"ecs:CreateAction": "RegisterTaskDefinition"}
    }
    writes = {a for a in by_action if not a.split(":")[1].startswith(("Describe", "Get", "List"))}
    assert all(by_action[a]["Resource"] != "*" for a in writes - {"ecs:RegisterTaskDefinition"})
