"""A service's `secrets:` references: which forms ECS can read, and what IAM must grant for each.

ECS reads a container's `secrets[].valueFrom` with the task execution role at task start, so
the role's policy must name every secret as IAM will match it, or `GetSecretValue` is denied
and no task starts. IAM matches the whole resource ARN, with `?` one character and `*` any run
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html
#reference_policies_elements_resource_wildcards).

Accepted forms (docs/aws.md, "Secrets"):

- a Secrets Manager ARN, `arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-AbCdEf`: Secrets
  Manager appends "-" and six random letters or digits to the name
  (https://docs.aws.amazon.com/secretsmanager/latest/userguide/whats-in-a-secret.html);
  granted as written;
- the same without its suffix (a partial ARN), granted as `NAME-??????`: exactly the six
  characters, not `*`, which would also match `NAME-anything-AbCdEf`
  (https://docs.aws.amazon.com/secretsmanager/latest/userguide/permissions_grant-limited-resources.html).
  Like Secrets Manager itself, a name ending in "-" and six letters or digits is taken as a
  complete ARN (the SecretId rules of
  https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html);
- either of them followed by ECS's `:json-key:version-stage:version-id` (all three fields,
  empty ones kept as `::`), granted as the secret's ARN alone
  (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/secrets-envvar-secrets-manager.html);
- an SSM parameter ARN, `arn:aws:ssm:REGION:ACCOUNT:parameter/NAME`, granted as written; for a
  name with a leading "/" the ARN holds it once (`parameter/prod/db` for `/prod/db`,
  https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssystemsmanager.html).

Anything else is refused with the fix: names alone (ECS takes a parameter's name in the task's
Region, https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Secret.html, but the
policy needs the account), wildcards, malformed ARNs, and ARNs of another partition than the
stack's Region (checked by the stack, which knows the Region).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

PARTITIONS = ("aws", "aws-cn", "aws-us-gov")
REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
ACCOUNT = re.compile(r"^\d{12}$")
# CreateSecret's Name: "ASCII letters, numbers, and /_+=.@-", at most 512 characters
# (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html).
SECRET_NAME = re.compile(r"^[A-Za-z0-9/_+=.@-]{1,512}$")
# "a dash and six random alphanumeric characters"
# (https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_iam-permissions.html).
RANDOM_SUFFIX = re.compile(r"-[A-Za-z0-9]{6}$")
ANY_SUFFIX = "-??????"
# Parameter names: letters, digits, "_", ".", "-" and "/" for hierarchies
# (https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-parameter-name-constraints.html).
PARAMETER_NAME = re.compile(r"^[A-Za-z0-9_.\-/]{1,1011}$")
SECRET_EXAMPLE = "arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-AbCdEf"
PARAMETER_EXAMPLE = "arn:aws:ssm:REGION:ACCOUNT:parameter/NAME"
# An ARN has six colon-separated fields; ECS's JSON-key form adds exactly three more.
ARN_FIELDS = 6
JSON_KEY_FIELDS = 3


class SecretRefError(ValueError):
    """A `secrets:` value ECS cannot read or IAM cannot be granted; the message says the fix."""


class Store(StrEnum):
    SECRETS_MANAGER = "secretsmanager"
    PARAMETER_STORE = "ssm"


# What the execution role needs for each store
# (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_execution_IAM_role.html
# #task-execution-secrets).
ACTIONS = {
    Store.SECRETS_MANAGER: "secretsmanager:GetSecretValue",
    Store.PARAMETER_STORE: "ssm:GetParameters",
}


@dataclass(frozen=True)
class SecretRef:
    """One parsed `secrets:` value: where it lives and what the execution role must be granted."""

    value_from: str
    store: Store
    partition: str
    region: str
    account: str
    resource: str  # "secret:NAME[-AbCdEf]" or "parameter/NAME"
    complete: bool  # a Secrets Manager ARN with its random suffix (always true for SSM)

    @property
    def action(self) -> str:
        return ACTIONS[self.store]

    @property
    def grant(self) -> str:
        """The policy's Resource that matches this secret's real ARN, and nothing else."""
        arn = f"arn:{self.partition}:{self.store}:{self.region}:{self.account}:{self.resource}"
        return arn if self.complete else arn + ANY_SUFFIX


def partition_of(region: str) -> str:
    """The partition a Region belongs to: an ARN's second field
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def parse_secret_ref(value: str) -> SecretRef:
    """The reference in value, or SecretRefError naming what is wrong and the fix."""
    if not value.startswith("arn:"):
        raise SecretRefError(
            f"must reference a secret by ARN ({SECRET_EXAMPLE} or {PARAMETER_EXAMPLE}), never "
            "hold its value; a name alone cannot be granted in the execution role's policy"
        )
    if "*" in value or "?" in value:
        raise SecretRefError(
            "wildcards are not references: name one secret by its ARN (ECS reads exactly one)"
        )
    fields = value.split(":")
    if len(fields) < ARN_FIELDS or fields[2] not in tuple(Store):
        raise SecretRefError(
            f"must be a Secrets Manager secret ARN ({SECRET_EXAMPLE}) or an SSM parameter ARN "
            f"({PARAMETER_EXAMPLE})"
        )
    partition, store, region, account = fields[1], Store(fields[2]), fields[3], fields[4]
    if partition not in PARTITIONS:
        raise SecretRefError(f"partition {partition!r} is not one of {', '.join(PARTITIONS)}")
    if not REGION.match(region):
        raise SecretRefError(f"region {region!r} is not an AWS Region such as 'us-east-1'")
    if not ACCOUNT.match(account):
        raise SecretRefError(f"account {account!r} is not a 12-digit AWS account ID")
    if store is Store.SECRETS_MANAGER:
        return _secret(value, fields, partition, region, account)
    return _parameter(value, fields, partition, region, account)


def _secret(value: str, fields: list[str], partition: str, region: str, account: str) -> SecretRef:
    if fields[5] != "secret" or len(fields) < ARN_FIELDS + 1:
        raise SecretRefError(f"a Secrets Manager ARN names a secret: {SECRET_EXAMPLE}")
    name, extra = fields[6], fields[ARN_FIELDS + 1 :]
    if extra and len(extra) != JSON_KEY_FIELDS:
        raise SecretRefError(
            "ECS reads one JSON key as ARN:json-key:version-stage:version-id with all three "
            f"fields, empty ones kept: write {':'.join(fields[:7])}:{extra[0]}:: for the key "
            f"{extra[0]!r}"
        )
    if not SECRET_NAME.match(name):
        raise SecretRefError(
            f"secret name {name!r} may hold only letters, digits and /_+=.@- (at most 512)"
        )
    return SecretRef(
        value_from=value,
        store=Store.SECRETS_MANAGER,
        partition=partition,
        region=region,
        account=account,
        resource=f"secret:{name}",
        complete=bool(RANDOM_SUFFIX.search(name)),
    )


def _parameter(
    value: str, fields: list[str], partition: str, region: str, account: str
) -> SecretRef:
    resource = ":".join(fields[5:])
    if not resource.startswith("parameter/"):
        raise SecretRefError(f"an SSM ARN names a parameter: {PARAMETER_EXAMPLE}")
    name = resource.removeprefix("parameter/")
    if name.startswith("/"):
        fixed = value.replace("parameter//", "parameter/", 1)
        raise SecretRefError(
            f"a parameter's ARN holds its leading '/' once: write {fixed} (IAM matches that ARN)"
        )
    if ":" in name:
        raise SecretRefError(
            "a parameter's ARN has no ':' after its name: remove the version or label selector"
        )
    if not name or not PARAMETER_NAME.match(name):
        raise SecretRefError(
            f"parameter name {name!r} may hold only letters, digits and _.-/ (at most 1011)"
        )
    return SecretRef(
        value_from=value,
        store=Store.PARAMETER_STORE,
        partition=partition,
        region=region,
        account=account,
        resource=resource,
        complete=True,
    )
