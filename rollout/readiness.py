"""How long a new color may take to become ready, per platform, and what a bake needs on AWS.

`deploy.readyTimeoutSeconds` unset takes the platform's default. Locally a process answers in
milliseconds and HAProxy checks it every `local.checkIntervalMs`: 60 s, as always. On AWS a
new task is pulled and started by Fargate, then the target group calls it healthy only after
`healthyThreshold` consecutive passing checks `intervalSeconds` apart ("the number of
consecutive health check successes required before considering a target healthy",
https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateTargetGroup.html).
A set value shorter than those checks can take (healthyThreshold x intervalSeconds, plus the
last check's timeoutSeconds) can never be met on AWS: `deploy --platform aws` refuses it.

ALB metrics reach CloudWatch in 60-second periods, and only while requests flow
(https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html);
a period is readable some time after it ends (AWS publishes no figure; we allow one more
period). A bake shorter than that shows the analysis no data at all.
"""

from __future__ import annotations

import math

from shipyard.config.aws_limits import ALB_METRIC_PERIOD
from shipyard.config.model import PROBE_MAX_RATE, Deploy, HealthCheck, Service, StackConfig

LOCAL_READY_TIMEOUT = 60
# Fargate caches no image: every task pulls its whole image before it starts
# (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-pull-behavior.html),
# and attaching the task's network interface adds seconds
# (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-recommendations.html).
# AWS gives no bound; 3 minutes covers the 1-3 minutes commonly reported for a task to go
# from PROVISIONING to RUNNING with an image of a few hundred MB.
FARGATE_COLD_START_SECONDS = 180
ALB_METRIC_DELAY = 60
AWS_MIN_BAKE = ALB_METRIC_PERIOD + ALB_METRIC_DELAY


def target_group_healthy_after(check: HealthCheck) -> int:
    """The least time the target group needs to call a new target healthy."""
    return check.healthy_threshold * check.interval_seconds + check.timeout_seconds


def aws_ready_timeout(check: HealthCheck) -> int:
    """The AWS default: a Fargate cold start, then the target group's passing checks."""
    return FARGATE_COLD_START_SECONDS + check.healthy_threshold * check.interval_seconds


def ready_timeout(policy: Deploy, service: Service, platform: str) -> int:
    """`readyTimeoutSeconds` when set, else the platform's default for this service."""
    if policy.ready_timeout_seconds is not None:
        return policy.ready_timeout_seconds
    if platform == "aws":
        return aws_ready_timeout(service.health_check)
    return LOCAL_READY_TIMEOUT


def ready_timeout_problem(policy: Deploy, service: Service) -> str | None:
    """Why a set `readyTimeoutSeconds` cannot be met on AWS by this service, or None."""
    set_to = policy.ready_timeout_seconds
    check = service.health_check
    needed = target_group_healthy_after(check)
    if set_to is None or set_to >= needed:
        return None
    return (
        f"deploy.readyTimeoutSeconds is {set_to} but {service.name}'s target group needs at "
        f"least {needed} s to call a new task healthy (healthCheck.healthyThreshold "
        f"{check.healthy_threshold} x intervalSeconds {check.interval_seconds} + "
        f"timeoutSeconds {check.timeout_seconds}), before Fargate's cold start: set {needed} "
        f"or more, or remove it for the AWS default ({aws_ready_timeout(check)} s for "
        f"{service.name}, which also allows for the cold start)"
    )


def aws_warnings(config: StackConfig) -> list[str]:
    """What in an environment's deploy policy cannot work on AWS. Stacks do not say which
    platform deploys them (that is `deploy --platform`), so these are warnings at render."""
    policy = config.deploy
    found: list[str] = []
    if policy.bake_seconds < AWS_MIN_BAKE:
        found.append(
            f"deploy.bakeSeconds is {policy.bake_seconds}: on AWS, ALB metrics come in "
            f"{ALB_METRIC_PERIOD} s periods that arrive up to {ALB_METRIC_DELAY} s late, so a "
            f"bake sees one whole period only after {AWS_MIN_BAKE} s (shorter: too few "
            f"requests, inconclusive); set {AWS_MIN_BAKE} or more if this environment deploys "
            "to AWS (shorter is fine on the local platform)"
        )
    for service in config.services:
        problem = ready_timeout_problem(policy, service)
        if problem is not None:
            found.append(f"{problem} (`deploy --platform aws` refuses it)")
    probe = policy.probe_traffic
    if probe is not None:
        smallest = min(policy.traffic_steps)
        expected = math.floor(probe.rate_per_second * policy.bake_seconds * smallest / 100)
        needed = policy.analysis.min_requests
        if expected < needed:
            rate = math.ceil(100 * needed / (max(policy.bake_seconds, 1) * smallest))
            fix = (
                f"raise ratePerSecond to {rate} or more, or bakeSeconds, or the first step"
                if rate <= PROBE_MAX_RATE
                else f"raise bakeSeconds or the first traffic step (ratePerSecond is at most "
                f"{PROBE_MAX_RATE})"
            )
            found.append(
                f"deploy.probeTraffic.ratePerSecond {probe.rate_per_second:g} sends about "
                f"{expected} requests to the new color in a {policy.bake_seconds} s bake at "
                f"{smallest}%, fewer than analysis.minRequests {needed}: {fix}"
            )
        rollout = len(policy.traffic_steps) * policy.bake_seconds
        if probe.max_seconds < rollout:
            found.append(
                f"deploy.probeTraffic.maxSeconds {probe.max_seconds} ends the probe before the "
                f"last bake ({len(policy.traffic_steps)} steps x {policy.bake_seconds} s = "
                f"{rollout} s): raise it to {rollout} or more"
            )
    return found
