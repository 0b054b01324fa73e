"""The harness's hands inside moto: the in-process backends of the moto server it runs, and the
three places where what AWS would do is put in.

- `UpdateService`: ECS starts a deployment. moto marks it complete at once (or never); the
  harness, told within the same request, reports the deployment as AWS would: a new PRIMARY
  deployment IN_PROGRESS next to the ACTIVE one still running, `runningCount` the tasks really
  running, until its tasks are healthy and the old ones gone
  (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Deployment.html).
- `ModifyListener`: the ALB applies the new forward weights; the harness sets HAProxy's within
  the same request.
- `DescribeTargetHealth`: moto calls every registered target healthy; the harness answers from
  HAProxy's real checks of the real processes (`initial`, `healthy`, `unhealthy`, `draining`,
  https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetHealth.html).

Only the backend instances of this process are changed (moto keeps one per account and region
per process), which is why the harness runs in its own process.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

from moto.backends import get_backend
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.elbv2.models import FakeHealthStatus

REASONS = {
    "initial": ("Elb.RegistrationInProgress", "Target registration is in progress"),
    "unhealthy": ("Target.FailedHealthChecks", "Health checks failed"),
    "draining": ("Target.DeregistrationInProgress", "Target deregistration is in progress"),
}


def backend(service: str, region: str) -> Any:
    backends: Any = get_backend  # typed per literal service name; any name here
    return backends(service)[DEFAULT_ACCOUNT_ID][region]


class TargetHealthBook:
    """What DescribeTargetHealth answers: (target group ARN, target id) -> state."""

    def __init__(self) -> None:
        self.states: dict[tuple[str, str], str] = {}

    def install(self, target_group: Any) -> None:
        original = target_group.health_for
        book = self

        def health_for(self: Any, target: dict[str, Any], ec2_backend: Any) -> Any:
            state = book.states.get((self.arn, target["Id"]))
            if state is None or target["Id"] not in self.targets:
                return original(target, ec2_backend)
            port = self.targets[target["Id"]]["Port"]
            reason, description = REASONS.get(state, (None, None))
            return FakeHealthStatus(
                target["Id"], port, self.health_check_port, state, reason, description
            )

        target_group.health_for = types.MethodType(health_for, target_group)


def after(
    instance: Any, method: str, then: Callable[[Any, tuple[Any, ...], dict[str, Any]], None]
) -> None:
    """Run `then(result, args, kwargs)` after `instance.method`, inside the same request."""
    original = getattr(instance, method)

    def hooked(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        then(result, args, kwargs)
        return result

    setattr(instance, method, hooked)
