"""Read what exists in AWS for one environment, through the narrowest boto3 calls drift needs."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shipyard.aws import Aws
from shipyard.errors import ShipyardError, UsageError

NAME_TAG = "Name"
ENV_TAG = "shipyard:environment"


@dataclass
class LiveState:
    """Resources keyed the way drift compares them; values are flat property maps."""

    load_balancers: dict[str, dict[str, Any]] = field(default_factory=dict)
    target_groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    listeners: dict[str, dict[str, Any]] = field(default_factory=dict)  # "<lb name>:<port>"
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    alarms: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class AwsClients:
    elbv2: Any
    ecs: Any
    cloudwatch: Any

    @classmethod
    def connect(
        cls, region: str, endpoint_url: str | None, environment: str | None = None
    ) -> AwsClients:
        aws = Aws(region, endpoint_url, environment)
        return cls(
            elbv2=aws.client("elbv2"), ecs=aws.client("ecs"), cloudwatch=aws.client("cloudwatch")
        )


def read_live(clients: AwsClients, env: str, clusters: list[str], alarm_prefix: str) -> LiveState:
    """Everything drift compares, for resources tagged with this environment."""
    try:
        return _read(clients, env, clusters, alarm_prefix)
    except ShipyardError:
        raise  # already explained (shipyard.aws): access denied, unreachable, ...
    except Exception as exc:  # botocore's error tree, kept at this one boundary
        raise _explain(exc) from None


def _read(clients: AwsClients, env: str, clusters: list[str], alarm_prefix: str) -> LiveState:
    state = LiveState()
    elbv2 = clients.elbv2
    lbs = _all(elbv2, "describe_load_balancers", "LoadBalancers")
    tgs = _all(elbv2, "describe_target_groups", "TargetGroups")
    tags = _tags(elbv2, [x["LoadBalancerArn"] for x in lbs] + [x["TargetGroupArn"] for x in tgs])
    lb_names = {}
    for lb in lbs:
        name = _ours(tags.get(lb["LoadBalancerArn"], {}), env)
        if name is not None:
            lb_names[lb["LoadBalancerArn"]] = name
            state.load_balancers[name] = {"type": lb.get("Type")}
    tg_names = {}
    for tg in tgs:
        name = _ours(tags.get(tg["TargetGroupArn"], {}), env)
        if name is None:
            continue
        tg_names[tg["TargetGroupArn"]] = name
        attributes = {
            a["Key"]: a["Value"]
            for a in elbv2.describe_target_group_attributes(TargetGroupArn=tg["TargetGroupArn"])[
                "Attributes"
            ]
        }
        matcher = tg.get("Matcher", {})
        delay = attributes.get("deregistration_delay.timeout_seconds")
        state.target_groups[name] = {
            "port": tg.get("Port"),
            "protocol": tg.get("Protocol"),
            "healthCheck.path": tg.get("HealthCheckPath"),
            "healthCheck.matcher": matcher.get("HttpCode"),
            "healthCheck.interval": tg.get("HealthCheckIntervalSeconds"),
            "healthCheck.timeout": tg.get("HealthCheckTimeoutSeconds"),
            "healthCheck.healthyThreshold": tg.get("HealthyThresholdCount"),
            "healthCheck.unhealthyThreshold": tg.get("UnhealthyThresholdCount"),
            "deregistrationDelay": int(delay) if delay is not None else None,
        }
    for arn, lb_name in lb_names.items():
        for listener in _all(elbv2, "describe_listeners", "Listeners", LoadBalancerArn=arn):
            state.listeners[f"{lb_name}:{listener['Port']}"] = {
                "listener": f"{lb_name}:{listener['Port']}",
                "protocol": listener.get("Protocol"),
                **_action(listener.get("DefaultActions", [{}])[0], tg_names),
            }
    for cluster in clusters:
        state.services.update(_services(clients.ecs, cluster))
    suffixes = _suffixes(lb_names, tg_names)
    for alarm in _all(
        clients.cloudwatch, "describe_alarms", "MetricAlarms", AlarmNamePrefix=alarm_prefix
    ):
        dimensions = {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])}
        state.alarms[alarm["AlarmName"]] = {
            "metricName": alarm.get("MetricName"),
            "threshold": alarm.get("Threshold"),
            "comparisonOperator": alarm.get("ComparisonOperator"),
            "period": alarm.get("Period"),
            "evaluationPeriods": alarm.get("EvaluationPeriods"),
            "dimensions": {key: suffixes.get(value, value) for key, value in dimensions.items()},
        }
    return state


def _action(action: dict[str, Any], tg_names: dict[str, str]) -> dict[str, Any]:
    """A live default action in the render's (camelCase) shape, then named like it."""
    forward = action.get("ForwardConfig") or {}
    redirect = action.get("RedirectConfig") or {}
    shaped = {
        "type": action.get("Type"),
        "targetGroupArn": action.get("TargetGroupArn"),
        "redirect": {"protocol": redirect.get("Protocol"), "port": redirect.get("Port")},
        "forward": {
            "targetGroups": [
                {"arn": g["TargetGroupArn"], "weight": g.get("Weight", 1)}
                for g in forward.get("TargetGroups", [])
            ]
        },
    }
    if shaped["targetGroupArn"] and len(forward.get("TargetGroups", [])) <= 1:
        shaped["forward"] = {}  # a plain forward to one group: compare it as such
    return listener_action(shaped, lambda arn: tg_names.get(arn, arn))


def listener_action(action: dict[str, Any], name_of: Callable[[str], str]) -> dict[str, Any]:
    """A listener's first action, with target groups named by logical name."""
    if action.get("type") == "redirect":
        redirect = action.get("redirect") or {}
        return {"action": "redirect", "to": f"{redirect.get('protocol')}:{redirect.get('port')}"}
    groups = (action.get("forward") or {}).get("targetGroups") or []
    if groups:
        return {
            "action": "forward",
            "weights": {name_of(g["arn"]): int(g.get("weight", 0)) for g in groups},
        }
    return {"action": "forward", "weights": {name_of(action.get("targetGroupArn") or ""): 1}}


def _services(ecs: Any, cluster: str) -> dict[str, dict[str, Any]]:
    arns = _all(ecs, "list_services", "serviceArns", cluster=cluster)
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(arns), 10):
        described = ecs.describe_services(cluster=cluster, services=arns[start : start + 10])
        for service in described.get("services", []):
            if service.get("status") == "INACTIVE":
                continue
            task = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])
            containers = task["taskDefinition"].get("containerDefinitions", [])
            found[service["serviceName"]] = {
                "cluster": cluster,
                "desiredCount": service.get("desiredCount"),
                "image": containers[0].get("image") if containers else None,
            }
    return found


def _tags(elbv2: Any, arns: list[str]) -> dict[str, dict[str, str]]:
    tags: dict[str, dict[str, str]] = {}
    for start in range(0, len(arns), 20):
        chunk = arns[start : start + 20]
        if not chunk:
            continue
        for description in elbv2.describe_tags(ResourceArns=chunk)["TagDescriptions"]:
            tags[description["ResourceArn"]] = {t["Key"]: t["Value"] for t in description["Tags"]}
    return tags


def _ours(tags: dict[str, str], env: str) -> str | None:
    if tags.get(ENV_TAG) != env:
        return None
    return tags.get(NAME_TAG)


def _suffixes(lb_names: dict[str, str], tg_names: dict[str, str]) -> dict[str, str]:
    """CloudWatch dimension values (ARN suffixes) -> logical names."""
    suffixes = {arn.split(":loadbalancer/", 1)[-1]: name for arn, name in lb_names.items()}
    suffixes.update({arn.rsplit(":", 1)[-1]: name for arn, name in tg_names.items()})
    return suffixes


def _all(client: Any, operation: str, key: str, **kwargs: Any) -> list[Any]:
    """Every page of a paginated describe/list call."""
    items: list[Any] = []
    for page in client.get_paginator(operation).paginate(**kwargs):
        items.extend(page.get(key, []))
    return items


def _explain(exc: Exception) -> UsageError:
    kind = type(exc).__name__
    if kind == "NoCredentialsError":
        return UsageError(
            "no AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID, or pass --endpoint-url "
            "for an emulator"
        )
    if kind in ("EndpointConnectionError", "ConnectTimeoutError", "ConnectionClosedError"):
        return UsageError(f"cannot reach AWS: {exc}; check --endpoint-url and the network")
    if kind == "ClientError":
        error = getattr(exc, "response", {}).get("Error", {})
        return UsageError(
            f"AWS refused a read: {error.get('Code')}: {error.get('Message')}; the drift check "
            "needs elasticloadbalancing:Describe*, ecs:Describe*/List*, cloudwatch:DescribeAlarms"
        )
    return UsageError(f"reading live AWS failed: {kind}: {json.dumps(str(exc))[1:-1]}")
