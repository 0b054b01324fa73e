"""docs/iam/shipyard-deployer-policy.json grants every AWS call the code makes, and no more.

The code is read, not trusted: every call on a client named after its service (`elbv2`,
`ecs`, `cloudwatch`, `s3`), every paginator and every `_all(client, "operation")` is turned
into its IAM action with botocore's own method-to-operation map. The integration tests check
the same policy against the calls actually made during deploys, rollbacks, drift and the S3
ledger (`calls_within_policy`).
"""

from __future__ import annotations

import ast
import fnmatch
import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from components.blue_green_service import ROLE_PATH, role_path
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
    assert by_action["ecs:DescribeServices"]["Resource"] == "arn:aws:ecs:*:*:service/shipyard-*/*"
    assert by_action["iam:PassRole"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
    }
    assert by_action["iam:PassRole"]["Resource"] == "arn:aws:iam::*:role/shipyard/*"
    # Tags on a new revision are authorized as ecs:TagResource; granted for that only.
    # https://docs.aws.amazon.com/AmazonECS/latest/developerguide/supported-iam-actions-tagging.html
    assert by_action["ecs:TagResource"]["Condition"] == {
        "StringEquals": {"ecs:CreateAction": "RegisterTaskDefinition"}
    }
    writes = {a for a in by_action if not a.split(":")[1].startswith(("Describe", "Get", "List"))}
    assert all(by_action[a]["Resource"] != "*" for a in writes)


def _audit(policy: dict[str, Any], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(policy, indent=2), encoding="utf-8")
    return _audit_file(path)


def _audit_file(path: Path) -> subprocess.CompletedProcess[str]:
    """scripts/audit_iam.py on one file, as `make lint` runs it."""
    return subprocess.run(
        [sys.executable, str(REPO / "scripts" / "audit_iam.py"), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_parliament_finds_nothing_in_the_policy(tmp_path: Path) -> None:
    """`make lint`'s audit, run here too: parliament's findings, less the one justified in
    scripts/audit_iam.py, plus shipyard's own PassRole rule."""
    result = _audit(json.loads(POLICY.read_text(encoding="utf-8")), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("sid", "resource", "finding"),
    [
        # The regression issue 14 names: PassRole on every role in the account.
        ("HandShipyardsTaskRolesToEcsOnly", "arn:aws:iam::*:role/*", "iam:PassRole"),
        # parliament's own rule: a write on every resource where IAM can scope it.
        ("RollColorsOntoNewVersions", "*", "RESOURCE_STAR"),
    ],
)
def test_the_audit_fails_a_policy_that_regresses(
    sid: str, resource: str, finding: str, tmp_path: Path
) -> None:
    policy = json.loads(POLICY.read_text(encoding="utf-8"))
    (statement,) = [s for s in policy["Statement"] if s["Sid"] == sid]
    statement["Resource"] = resource
    result = _audit(policy, tmp_path)
    assert result.returncode == 1 and finding in result.stdout, result.stdout + result.stderr


PASS_ROLE_SID = "HandShipyardsTaskRolesToEcsOnly"


def _pass_role(policy: dict[str, Any]) -> dict[str, Any]:
    (statement,) = [s for s in policy["Statement"] if s["Sid"] == PASS_ROLE_SID]
    return statement


def _without_condition(statement: dict[str, Any]) -> None:
    del statement["Condition"]


def _not_resource(statement: dict[str, Any]) -> None:
    statement["NotResource"] = statement.pop("Resource")


def _not_action(statement: dict[str, Any]) -> None:
    statement["NotAction"] = ["s3:*"]
    del statement["Action"]


def _edit(**fields: Any) -> Callable[[dict[str, Any]], None]:
    return lambda statement: statement.update(fields)


EVERY_ROLE = "arn:aws:iam::*:role/*"
PASS_ROLE_RESOURCE = "arn:aws:iam::*:role/shipyard/*"


@pytest.mark.parametrize(
    ("edit", "finding"),
    [
        # IAM matches actions case-insensitively, with * and ? wildcards.
        (_edit(Action="iam:Pass*", Resource=EVERY_ROLE), f"{PASS_ROLE_SID}: iam:PassRole on"),
        (_edit(Action="iam:passrole", Resource=EVERY_ROLE), f"{PASS_ROLE_SID}: iam:PassRole on"),
        (_edit(Action=["s3:GetObject", "IAM:*"], Resource=EVERY_ROLE), "iam:PassRole on"),
        (_edit(Action="iam:P?ssRole", Resource=EVERY_ROLE), "iam:PassRole on"),
        (_edit(Action="*", Resource=[PASS_ROLE_RESOURCE, EVERY_ROLE]), "iam:PassRole on"),
        (_edit(Resource="arn:aws:iam::*:role/shipyard*"), "iam:PassRole on"),
        # Any service may be handed the roles without the condition, or with a wider one.
        (_without_condition, "without the condition StringEquals iam:PassedToService"),
        (
            _edit(Condition={"StringLike": {"iam:PassedToService": "*"}}),
            "without the condition StringEquals iam:PassedToService",
        ),
        (
            _edit(
                Condition={
                    "StringEquals": {"iam:PassedToService": ["ecs-tasks.amazonaws.com", "ec2."]}
                }
            ),
            "without the condition StringEquals iam:PassedToService",
        ),
        # Allow + NotResource / NotAction grant everything they do not name.
        (_not_resource, f"{PASS_ROLE_SID}: Allow with NotResource grants everything"),
        (_not_action, f"{PASS_ROLE_SID}: Allow with NotAction grants everything"),
    ],
)
def test_the_audit_finds_pass_role_however_it_is_written(
    edit: Callable[[dict[str, Any]], None], finding: str, tmp_path: Path
) -> None:
    policy = json.loads(POLICY.read_text(encoding="utf-8"))
    edit(_pass_role(policy))
    result = _audit(policy, tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert finding in result.stdout, result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "edit",
    [
        # One environment's roles only: narrower than the path, and what docs/aws.md advises.
        _edit(Resource="arn:aws:iam::123456789012:role/shipyard/prod/*"),
        # Condition keys are case-insensitive.
        _edit(Condition={"StringEquals": {"IAM:PassedToService": "ecs-tasks.amazonaws.com"}}),
        # A Deny is never a grant.
        _edit(Effect="Deny", Resource=EVERY_ROLE),
    ],
)
def test_the_audit_accepts_narrower_pass_role_grants(
    edit: Callable[[dict[str, Any]], None], tmp_path: Path
) -> None:
    policy = json.loads(POLICY.read_text(encoding="utf-8"))
    edit(_pass_role(policy))
    result = _audit(policy, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "text", ["{not json", "[]", '{"Statement": "iam:PassRole"}', '{"Statement": [1]}']
)
def test_the_audit_says_one_line_for_a_file_that_is_not_a_policy(text: str, tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_text(text, encoding="utf-8")
    result = _audit_file(path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith(f"{path}: cannot read it as an IAM policy")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "edit",
    [
        ('"Action": "iam:PassRole"', '"Action": 5'),
        ('"Action": "iam:PassRole"', '"Action": [["iam:PassRole"]]'),
        ('"Sid": "LedgerBucketListing"', '"Sid": ["x"]'),
    ],
    ids=["action-number", "nested-action", "sid-list"],
)
def test_a_policy_of_a_shape_iam_refuses_is_one_line_exit_2(
    edit: tuple[str, str], tmp_path: Path
) -> None:
    """Never a traceback, and never a pass: exit 2 with the file named."""
    text = POLICY.read_text(encoding="utf-8")
    assert edit[0] in text
    path = tmp_path / "policy.json"
    path.write_text(text.replace(edit[0], edit[1], 1), encoding="utf-8")
    result = _audit_file(path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith(f"{path}: ") and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("role_arn", "passes"),
    [
        ("arn:aws:iam::123456789012:role/shipyard/prod/web-execution-role-1a2b3c4", True),
        ("arn:aws:iam::123456789012:role/web-execution-role-1a2b3c4", False),
        ("arn:aws:iam::123456789012:role/admin", False),
        ("arn:aws:iam::123456789012:role/other/shipyard/x", False),
    ],
)
def test_pass_role_matches_only_roles_under_the_programs_path(role_arn: str, passes: bool) -> None:
    """IAM's `*` matches any run of characters, "/" included, and `?` one character
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html#reference_policies_elements_resource_wildcards);
    fnmatchcase without character classes is the same rule."""
    statements = json.loads(POLICY.read_text(encoding="utf-8"))["Statement"]
    (grant,) = [s["Resource"] for s in statements if s["Action"] == "iam:PassRole"]
    assert fnmatch.fnmatchcase(role_arn, grant) is passes


def test_the_role_path_is_one_iam_accepts() -> None:
    """CreateRole's Path: 1-512 characters, "/" alone or "/" + printable ASCII + "/"
    (https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html)."""
    path = role_path("a" * 16)  # the longest environment name the config accepts
    assert re.fullmatch(r"/|/[\x21-\x7e]+/", path) and len(path) <= 512
    assert path.startswith(ROLE_PATH)


def test_the_documented_per_environment_pass_role_keeps_to_its_environment() -> None:
    """The committed grant spans every environment's roles (docs/aws.md says so); the
    narrowing docs/aws.md gives, role/shipyard/prod/*, matches prod's roles and not dev's."""
    statements = json.loads(POLICY.read_text(encoding="utf-8"))["Statement"]
    (grant,) = [s["Resource"] for s in statements if s["Action"] == "iam:PassRole"]
    arn = "arn:aws:iam::123456789012:role{path}web-execution-role-1a2b3c4"
    prod, dev = arn.format(path=role_path("prod")), arn.format(path=role_path("dev"))
    assert fnmatch.fnmatchcase(prod, grant) and fnmatch.fnmatchcase(dev, grant)

    narrowed = "arn:aws:iam::*:role/shipyard/prod/*"
    assert fnmatch.fnmatchcase(prod, narrowed)
    assert not fnmatch.fnmatchcase(dev, narrowed)
    assert "`role/shipyard/prod/*`" in (REPO / "docs" / "aws.md").read_text(encoding="utf-8")
