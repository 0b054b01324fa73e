"""`secrets:` references: each accepted form, each refused one (exit 2, one exact line), and IAM's
own matching rule applied to what the execution role is granted."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from shipyard.config.load import StackSources
from shipyard.config.secret_refs import SecretRefError, Store, parse_secret_ref, partition_of
from tests.conftest import CliResult, snapshot

SM = "arn:aws:secretsmanager:us-east-1:123456789012:secret:"
SSM = "arn:aws:ssm:us-east-1:123456789012:parameter/"
REAL_ARN = SM + "shipyard/prod/web/database-url-AbCdEf"  # as Secrets Manager names it


def iam_matches(pattern: str, arn: str) -> bool:
    """IAM's Resource matching: `*` any run of characters, `?` exactly one, everything else
    literal and case-sensitive
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html
    #reference_policies_elements_resource_wildcards). Written out rather than fnmatch, whose
    `[...]` classes IAM does not have."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, arn, flags=re.DOTALL) is not None


ACCEPTED = [
    # (as written, store, granted Resource)
    (REAL_ARN, Store.SECRETS_MANAGER, REAL_ARN),
    (SM + "shipyard/prod/web/database-url", Store.SECRETS_MANAGER, REAL_ARN[:-6] + "??????"),
    (REAL_ARN + ":password::", Store.SECRETS_MANAGER, REAL_ARN),
    (REAL_ARN + "::AWSPREVIOUS:", Store.SECRETS_MANAGER, REAL_ARN),
    (
        SM + "shipyard/prod/web/database-url:password:AWSCURRENT:",
        Store.SECRETS_MANAGER,
        REAL_ARN[:-6] + "??????",
    ),
    (SSM + "shipyard/prod/web/token", Store.PARAMETER_STORE, SSM + "shipyard/prod/web/token"),
    (SSM + "token", Store.PARAMETER_STORE, SSM + "token"),
    (
        "arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:db-AbCdEf",
        Store.SECRETS_MANAGER,
        "arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:db-AbCdEf",
    ),
]


@pytest.mark.parametrize(("written", "store", "granted"), ACCEPTED)
def test_an_accepted_form_is_read_as_written_and_granted_as_iam_matches_it(
    written: str, store: Store, granted: str
) -> None:
    ref = parse_secret_ref(written)
    assert ref.value_from == written
    assert ref.store is store
    assert ref.grant == granted
    assert (
        ref.action
        == {
            Store.SECRETS_MANAGER: "secretsmanager:GetSecretValue",
            Store.PARAMETER_STORE: "ssm:GetParameters",
        }[store]
    )


def test_the_grant_for_a_partial_arn_matches_the_real_arn_and_nothing_wider() -> None:
    grant = parse_secret_ref(SM + "shipyard/prod/web/database-url").grant
    assert iam_matches(grant, REAL_ARN)
    assert iam_matches(grant, SM + "shipyard/prod/web/database-url-Zz9900")
    # The suffix-less ARN, granted verbatim as before, never matches the real one ...
    assert not iam_matches(SM + "shipyard/prod/web/database-url", REAL_ARN)
    # ... and `?` is one character each: neither a longer name nor another suffix length.
    assert not iam_matches(grant, SM + "shipyard/prod/web/database-url-old-AbCdEf")
    assert not iam_matches(grant, SM + "shipyard/prod/web/database-url-AbCdE")
    assert not iam_matches(grant, SM + "shipyard/prod/web/database-url")
    # `*` would have granted the longer name too, which is why the docs ask for `??????`.
    assert iam_matches(
        SM + "shipyard/prod/web/database-url-*", SM + "shipyard/prod/web/database-url-old-AbCdEf"
    )


def test_the_grant_for_the_json_key_form_matches_the_secret_not_the_value_from() -> None:
    ref = parse_secret_ref(REAL_ARN + ":password::")
    assert iam_matches(ref.grant, REAL_ARN)
    # Granted verbatim, the JSON-key form names no resource IAM ever sees.
    assert not iam_matches(ref.value_from, REAL_ARN)


def test_a_name_that_ends_like_a_suffix_is_taken_as_complete_as_secrets_manager_does() -> None:
    # https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html
    assert parse_secret_ref(SM + "db-backup").grant == SM + "db-backup"


@pytest.mark.parametrize(
    ("region", "partition"),
    [
        ("us-east-1", "aws"),
        ("eu-west-1", "aws"),
        ("cn-north-1", "aws-cn"),
        ("us-gov-west-1", "aws-us-gov"),
    ],  # fmt: skip
)
def test_partition_of_a_region(region: str, partition: str) -> None:
    assert partition_of(region) == partition


REFUSED = [
    (
        "a value instead of a reference",
        "hunter2-correct-horse",
        "must reference a secret by ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-AbCdEf "
        "or arn:aws:ssm:REGION:ACCOUNT:parameter/NAME), never hold its value; a name alone "
        "cannot be granted in the execution role's policy",
    ),
    (
        "a parameter's name alone",
        "/shipyard/dev/api/token",
        "must reference a secret by ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-AbCdEf "
        "or arn:aws:ssm:REGION:ACCOUNT:parameter/NAME), never hold its value; a name alone "
        "cannot be granted in the execution role's policy",
    ),
    (
        "another service's ARN",
        "arn:aws:s3:::shipyard-secrets/token",
        "must be a Secrets Manager secret ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:"
        "NAME-AbCdEf) or an SSM parameter ARN (arn:aws:ssm:REGION:ACCOUNT:parameter/NAME)",
    ),
    (
        "a wildcard",
        SM + "shipyard/dev/*",
        "wildcards are not references: name one secret by its ARN (ECS reads exactly one)",
    ),
    (
        "an unknown partition",
        "arn:amazon:secretsmanager:us-east-1:123456789012:secret:db",
        "partition 'amazon' is not one of aws, aws-cn, aws-us-gov",
    ),
    (
        "a malformed region",
        "arn:aws:secretsmanager:useast1:123456789012:secret:db",
        "region 'useast1' is not an AWS Region such as 'us-east-1'",
    ),
    (
        "a short account",
        "arn:aws:secretsmanager:us-east-1:1234:secret:db",
        "account '1234' is not a 12-digit AWS account ID",
    ),
    (
        "a Secrets Manager ARN without secret:",
        "arn:aws:secretsmanager:us-east-1:123456789012:db",
        "a Secrets Manager ARN names a secret: arn:aws:secretsmanager:REGION:ACCOUNT:secret:"
        "NAME-AbCdEf",
    ),
    (
        "a JSON key without its version fields",
        REAL_ARN + ":password",
        "ECS reads one JSON key as ARN:json-key:version-stage:version-id with all three fields, "
        f"empty ones kept: write {REAL_ARN}:password:: for the key 'password'",
    ),
    (
        "a secret name with a space",
        SM + "shipyard db",
        "secret name 'shipyard db' may hold only letters, digits and /_+=.@- (at most 512)",
    ),
    (
        "a parameter ARN with its leading slash twice",
        SSM + "/shipyard/dev/api/token",
        f"a parameter's ARN holds its leading '/' once: write {SSM}shipyard/dev/api/token (IAM "
        "matches that ARN)",
    ),
    (
        "a parameter ARN with a version selector",
        SSM + "shipyard/dev/api/token:3",
        "a parameter's ARN has no ':' after its name: remove the version or label selector",
    ),
    (
        "an SSM ARN of something else",
        "arn:aws:ssm:us-east-1:123456789012:document/token",
        "an SSM ARN names a parameter: arn:aws:ssm:REGION:ACCOUNT:parameter/NAME",
    ),
]


@pytest.mark.parametrize(
    ("value", "message"), [pytest.param(v, m, id=case) for case, v, m in REFUSED]
)
def test_a_refused_form_names_the_fix(value: str, message: str) -> None:
    with pytest.raises(SecretRefError) as raised:
        parse_secret_ref(value)
    assert str(raised.value) == message


def set_secret(project: StackSources, env: str, value: str) -> None:
    overlay = project.overlay(env)
    doc: dict[str, Any] = yaml.safe_load(overlay.read_text())
    api = next(s for s in doc["services"] if s["name"] == "api")
    api["secrets"] = {"API_TOKEN": value}
    overlay.write_text(yaml.safe_dump(doc, sort_keys=False))


@pytest.mark.parametrize(
    ("value", "message"), [pytest.param(v, m, id=case) for case, v, m in REFUSED]
)
def test_stacks_render_refuses_it_with_one_line_and_exit_2(
    project: StackSources, cli: Callable[..., CliResult], value: str, message: str
) -> None:
    set_secret(project, "dev", value)
    before = snapshot(project.root)
    result = cli("stacks", "render", project=project)
    assert result.code == 2, result
    assert result.err == f"shipyard: stacks/dev.yaml: services[1].secrets.API_TOKEN: {message}\n"
    assert result.out == ""
    assert snapshot(project.root) == before


def test_a_secret_of_another_partition_than_the_region_is_refused(
    project: StackSources, cli: Callable[..., CliResult]
) -> None:
    set_secret(project, "dev", "arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:db")
    before = snapshot(project.root)
    result = cli("stacks", "render", project=project)
    assert result.code == 2, result
    assert result.err == (
        "shipyard: stacks/dev.yaml: services[1].secrets.API_TOKEN: is in partition aws-cn but "
        "region us-east-1 is in aws: reference a secret of the stack's partition (arn:aws:...)\n"
    )
    assert snapshot(project.root) == before


def test_a_secret_in_another_region_of_the_partition_is_accepted(
    project: StackSources, cli: Callable[..., CliResult]
) -> None:
    # ECS reads a secret of another Region by its full ARN
    # (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Secret.html).
    set_secret(project, "dev", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf")
    result = cli("stacks", "render", "dev", project=project)
    assert result.code == 0, result
