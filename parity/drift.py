"""`shipyard drift ENV`: the rendered stack (what should exist) against live AWS (what does).

Compared, per service: the load balancer, its listeners (port, protocol, forward weights or
target), both target groups (port, protocol, health check, deregistration delay), both ECS
services (desired count, image) and every CloudWatch alarm (metric, threshold, comparison,
period, evaluation periods, dimensions). Live resources are found the way shipyard tags them:
load balancers and target groups by their `Name` tag (the logical name) within the
environment's `shipyard:environment` tag, listeners by load balancer and port, ECS services by
name in the environment's cluster, alarms by name.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass
from typing import Any

from parity.live import AwsClients, LiveState, listener_action, read_live
from parity.render import RenderedStack
from shipyard.config.plain_secrets import Masker

LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
LISTENER = "aws:lb/listener:Listener"
ECS_SERVICE = "aws:ecs/service:Service"
ECS_CLUSTER = "aws:ecs/cluster:Cluster"
TASK = "aws:ecs/taskDefinition:TaskDefinition"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"

_ARN_NAME = re.compile(
    r"(?:targetgroup|loadbalancer|cluster)/([^/]+)$|task-definition/([^/:]+):\d+$"
)
_SUFFIX_NAME = re.compile(r"^(?:app|targetgroup)/([^/]+)/")


@dataclass(frozen=True)
class DriftItem:
    """One way live AWS differs from the rendered stack."""

    resource: str
    kind: str  # missing | extra | changed
    property: str | None = None
    expected: Any = None
    actual: Any = None

    def line(self) -> str:
        if self.kind == "changed":
            shown = self.to_dict()
            return (
                f"{self.resource}.{self.property}: expected {json.dumps(shown['expected'])}, "
                f"live {json.dumps(shown['actual'])}"
            )
        return f"{self.resource}: {self.kind}"

    def to_dict(self) -> dict[str, Any]:
        """The item as reported: a secret-shaped expected or live value is masked."""
        masker = Masker()
        item = asdict(self)
        for side in ("expected", "actual"):
            item[side] = masker.mask(item[side], self.property)
        return dict(masker.scrub(item))


def expected_state(stack: RenderedStack) -> LiveState:
    """What live AWS should look like, in the same shape LiveState reads it."""
    state = LiveState()
    tasks = {r["inputs"].get("family", r["name"]): r["inputs"] for r in stack.of_type(TASK)}
    clusters = {r["name"]: r["inputs"].get("name") for r in stack.of_type(ECS_CLUSTER)}
    for resource in stack.of_type(LOAD_BALANCER):
        state.load_balancers[resource["name"]] = {
            "type": resource["inputs"].get("loadBalancerType")
        }
    for resource in stack.of_type(TARGET_GROUP):
        inputs = resource["inputs"]
        check = inputs.get("healthCheck", {})
        state.target_groups[resource["name"]] = {
            "port": inputs.get("port"),
            "protocol": inputs.get("protocol"),
            "healthCheck.path": check.get("path"),
            "healthCheck.matcher": check.get("matcher"),
            "healthCheck.interval": check.get("interval"),
            "healthCheck.timeout": check.get("timeout"),
            "healthCheck.healthyThreshold": check.get("healthyThreshold"),
            "healthCheck.unhealthyThreshold": check.get("unhealthyThreshold"),
            "deregistrationDelay": inputs.get("deregistrationDelay"),
        }
    for resource in stack.of_type(LISTENER):
        inputs = resource["inputs"]
        lb = _name_in(inputs.get("loadBalancerArn", ""))
        state.listeners[f"{lb}:{inputs.get('port')}"] = {
            "listener": resource["name"],
            "protocol": inputs.get("protocol"),
            **listener_action(inputs.get("defaultActions", [{}])[0], _name_in),
        }
    for resource in stack.of_type(ECS_SERVICE):
        inputs = resource["inputs"]
        task = tasks.get(_name_in(inputs.get("taskDefinition", "")), {})
        containers = json.loads(task.get("containerDefinitions", "[]") or "[]")
        state.services[inputs.get("name", resource["name"])] = {
            "cluster": clusters.get(_name_in(inputs.get("cluster", "")), None),
            "desiredCount": inputs.get("desiredCount"),
            "image": containers[0]["image"] if containers else None,
        }
    for resource in stack.of_type(ALARM):
        inputs = resource["inputs"]
        state.alarms[inputs.get("name", resource["name"])] = {
            "metricName": inputs.get("metricName"),
            "threshold": float(inputs.get("threshold", 0)),
            "comparisonOperator": inputs.get("comparisonOperator"),
            "period": inputs.get("period"),
            "evaluationPeriods": inputs.get("evaluationPeriods"),
            "dimensions": {
                key: _suffix_name(value) for key, value in inputs.get("dimensions", {}).items()
            },
        }
    return state


def compare_state(expected: LiveState, live: LiveState) -> list[DriftItem]:
    """Missing, extra and changed, in a stable order."""
    items: list[DriftItem] = []
    for kind in ("load_balancers", "target_groups", "listeners", "services", "alarms"):
        want: dict[str, dict[str, Any]] = getattr(expected, kind)
        have: dict[str, dict[str, Any]] = getattr(live, kind)
        for key in sorted(want):
            label = want[key].get("listener", key)
            if key not in have:
                items.append(DriftItem(label, "missing"))
                continue
            for prop, value in want[key].items():
                if prop == "listener":
                    continue
                actual = have[key].get(prop)
                if not _same(value, actual):
                    items.append(DriftItem(label, "changed", prop, value, actual))
        for key in sorted(set(have) - set(want)):
            items.append(DriftItem(have[key].get("listener", key), "extra"))
    return items


def _same(expected: Any, actual: Any) -> bool:
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return float(expected) == float(actual)
    return bool(expected == actual)


def _name_in(arn: str) -> str:
    match = _ARN_NAME.search(arn or "")
    return (match.group(1) or match.group(2)) if match else arn


def _suffix_name(value: str) -> str:
    match = _SUFFIX_NAME.match(value or "")
    return match.group(1) if match else value


@dataclass(frozen=True)
class DriftReport:
    environment: str
    items: list[DriftItem]
    checked: dict[str, int]

    @property
    def drifted(self) -> bool:
        return bool(self.items)

    def to_dict(self) -> dict[str, Any]:
        counts = {kind: sum(1 for i in self.items if i.kind == kind) for kind in KINDS}
        return {
            "environment": self.environment,
            "drifted": self.drifted,
            "checked": self.checked,
            "counts": counts,
            "items": [item.to_dict() for item in self.items],
        }


KINDS = ("missing", "extra", "changed")


def run_drift(stack: RenderedStack, clients: AwsClients) -> DriftReport:
    """Compare one rendered stack with what live AWS holds for its environment."""
    expected = expected_state(stack)
    clusters = sorted({s["cluster"] for s in expected.services.values() if s.get("cluster")})
    prefix = os.path.commonprefix(sorted(expected.alarms)) if expected.alarms else ""
    live = read_live(clients, stack.stack, clusters, prefix or f"shipyard-{stack.stack}-")
    checked = {
        "load_balancers": len(expected.load_balancers),
        "listeners": len(expected.listeners),
        "target_groups": len(expected.target_groups),
        "services": len(expected.services),
        "alarms": len(expected.alarms),
    }
    return DriftReport(stack.stack, compare_state(expected, live), checked)
