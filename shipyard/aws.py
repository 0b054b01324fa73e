"""AWS clients the way every shipyard command makes them.

- Retries: botocore's *standard* retry mode (exponential backoff with jitter, throttling and
  transient errors, a retry quota), not a hand loop. `SHIPYARD_AWS_MAX_ATTEMPTS` overrides the
  attempt count (default 5).
- Errors: an access-denied answer stops with exit 1 naming the IAM action that is missing; a
  missing listener, target group, service or cluster names what to run (`pulumi up -s ENV`).
  On the platform's own clients every other error is a `PlatformError`, which a rollout treats
  like a failed check (traffic back to the stable color). S3 (the ledger) keeps its
  `ClientError`s: conditional writes lose races on purpose.
- Accounting: every call is counted by IAM action in `CALLS`, which the IAM policy test and
  `benchmarks/aws.py` read.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

from shipyard.errors import PlatformError, UsageError

MAX_ATTEMPTS = "SHIPYARD_AWS_MAX_ATTEMPTS"
# IAM's service prefix where it differs from boto3's client name.
IAM_PREFIX = {"elbv2": "elasticloadbalancing"}
# S3's IAM actions are not its operation names.
S3_ACTIONS = {
    "ListObjectsV2": "s3:ListBucket",
    "HeadObject": "s3:GetObject",
    "HeadBucket": "s3:ListBucket",
}
ACCESS_DENIED = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnauthorizedAccess",
        "NotAuthorized",
    }
)
NOT_FOUND = frozenset(
    {
        "ListenerNotFound",
        "TargetGroupNotFound",
        "LoadBalancerNotFound",
        "ServiceNotFoundException",
        "ClusterNotFoundException",
        "ResourceNotFound",
        "ResourceNotFoundException",
    }
)
CREDENTIALS_HELP = (
    "no AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID, or pass --endpoint-url for an "
    "emulator"
)

# Calls made by this process, by IAM action ("elasticloadbalancing:ModifyListener": 3).
CALLS: Counter[str] = Counter()


class Unreachable(PlatformError):
    """No answer at all (connection refused, DNS, timeouts) after the retries: exit 2, as the
    endpoint or the network is the thing to fix."""

    exit_code = 2


class AccessDenied(PlatformError):
    """The caller's IAM policy lacks the action."""


class MissingResource(PlatformError):
    """A resource the stack should have created is not there."""


def iam_action(service: str, operation: str) -> str:
    if service == "s3":
        return S3_ACTIONS.get(operation, f"s3:{operation}")
    return f"{IAM_PREFIX.get(service, service)}:{operation}"


def explain(
    service: str, operation: str, code: str, message: str, environment: str | None
) -> PlatformError:
    action = iam_action(service, operation)
    if code in ACCESS_DENIED:
        return AccessDenied(
            f"access denied: this identity may not call {action} ({message.strip() or code}); "
            "grant it: docs/aws.md has the deployer's least-privilege policy",
            action,
            code,
        )
    if code in NOT_FOUND:
        fix = f"run `pulumi up -s {environment}`" if environment else "run `pulumi up`"
        return MissingResource(
            f"{action}: {code}: {message.strip()}; the stack's resources are not all there: "
            f"{fix}, then retry",
            action,
            code,
        )
    return PlatformError(f"{action} failed: {code}: {message.strip()}", action, code)


def retry_config() -> Any:
    from botocore.config import Config

    attempts = os.environ.get(MAX_ATTEMPTS, "5")
    if not attempts.isdigit() or int(attempts) < 1:
        raise UsageError(f"{MAX_ATTEMPTS}={attempts!r}: must be a whole number of attempts >= 1")
    return Config(
        retries={"mode": "standard", "total_max_attempts": int(attempts)},
        connect_timeout=5,
        read_timeout=30,
    )


class Aws:
    """One session's clients for one region (and optionally an emulator's endpoint)."""

    def __init__(
        self, region: str | None, endpoint_url: str | None = None, environment: str | None = None
    ) -> None:
        import boto3

        self.region = region
        self.endpoint_url = endpoint_url
        self.environment = environment
        session = boto3.session.Session(region_name=region)
        if session.get_credentials() is None:  # resolved once: it may ask instance metadata
            if not endpoint_url:
                raise UsageError(CREDENTIALS_HELP)
            # An emulator takes any key; real AWS never sees these.
            session = boto3.session.Session(
                region_name=region, aws_access_key_id="test", aws_secret_access_key="test"
            )
        self.session = session
        self.config = retry_config()
        self.attempts = int(self.config.retries["total_max_attempts"])

    def client(self, name: str, *, translate_all: bool = True) -> Any:
        """A boto3 client that counts its calls and explains its errors (see the module)."""
        client = self.session.client(name, endpoint_url=self.endpoint_url, config=self.config)
        environment = self.environment

        def count(model: Any, **_: Any) -> None:
            CALLS[iam_action(name, model.name)] += 1

        def check(http_response: Any, parsed: Any, model: Any, **_: Any) -> None:
            if http_response is None or http_response.status_code < 300:
                return
            error = (parsed or {}).get("Error", {})
            code = str(error.get("Code", http_response.status_code))
            if translate_all or code in ACCESS_DENIED:
                raise explain(name, model.name, code, str(error.get("Message", "")), environment)

        def unreachable(exception: Exception, **_: Any) -> None:
            if translate_all:
                raise Unreachable(
                    f"cannot reach AWS: {exception} (after {self.attempts} attempts); check "
                    "the network and --endpoint-url",
                    code=type(exception).__name__,
                ) from exception

        client.meta.events.register("before-call", count)
        client.meta.events.register("after-call", check)
        client.meta.events.register("after-call-error", unreachable)
        return client
