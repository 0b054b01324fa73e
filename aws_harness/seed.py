"""Create, through boto3, the AWS resources a rendered stack describes: a test's `pulumi up`.

Only what drift reads is created (load balancers, target groups, listeners, ECS services and
task definitions, alarms), tagged and named the way the Pulumi program names them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from parity.drift import (
    ALARM,
    ECS_CLUSTER,
    ECS_SERVICE,
    LISTENER,
    LOAD_BALANCER,
    TARGET_GROUP,
    TASK,
)
from parity.render import RenderedStack


@dataclass
class Seeded:
    """Live ARNs by logical name, so tests can mutate exactly one thing."""

    load_balancers: dict[str, str] = field(default_factory=dict)
    target_groups: dict[str, str] = field(default_factory=dict)
    listeners: dict[str, str] = field(default_factory=dict)
    task_definitions: dict[str, str] = field(default_factory=dict)
    cluster: str = ""


def tags(env: str, name: str) -> list[dict[str, str]]:
    return [{"Key": "Name", "Value": name}, {"Key": "shipyard:environment", "Value": env}]


def seed(stack: RenderedStack, ec2: Any, elbv2: Any, ecs: Any, cloudwatch: Any) -> Seeded:
    env = stack.stack
    seeded = Seeded()
    vpc = ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.99.{i}.0/24", AvailabilityZone=f"us-east-1{z}")[
            "Subnet"
        ]["SubnetId"]
        for i, z in enumerate("ab")
    ]
    for resource in stack.of_type(LOAD_BALANCER):
        lb = elbv2.create_load_balancer(
            Name=f"{env}-{resource['name']}"[:32],
            Subnets=subnets,
            Type="application",
            Tags=tags(env, resource["name"]),
        )["LoadBalancers"][0]
        seeded.load_balancers[resource["name"]] = lb["LoadBalancerArn"]
    for resource in stack.of_type(TARGET_GROUP):
        inputs, check = resource["inputs"], resource["inputs"]["healthCheck"]
        tg = elbv2.create_target_group(
            Name=f"{env}-{resource['name']}"[:32],
            Protocol=inputs["protocol"],
            Port=inputs["port"],
            VpcId=vpc,
            TargetType="ip",
            HealthCheckPath=check["path"],
            HealthCheckIntervalSeconds=check["interval"],
            HealthCheckTimeoutSeconds=check["timeout"],
            HealthyThresholdCount=check["healthyThreshold"],
            UnhealthyThresholdCount=check["unhealthyThreshold"],
            Matcher={"HttpCode": check["matcher"]},
            Tags=tags(env, resource["name"]),
        )["TargetGroups"][0]
        elbv2.modify_target_group_attributes(
            TargetGroupArn=tg["TargetGroupArn"],
            Attributes=[
                {
                    "Key": "deregistration_delay.timeout_seconds",
                    "Value": str(inputs["deregistrationDelay"]),
                }
            ],
        )
        seeded.target_groups[resource["name"]] = tg["TargetGroupArn"]
    for resource in stack.of_type(LISTENER):
        inputs = resource["inputs"]
        lb_name = inputs["loadBalancerArn"].rsplit("/", 1)[-1]
        listener = elbv2.create_listener(
            LoadBalancerArn=seeded.load_balancers[lb_name],
            Port=inputs["port"],
            Protocol=inputs["protocol"],
            DefaultActions=[live_action(a, seeded) for a in inputs["defaultActions"]],
        )["Listeners"][0]
        seeded.listeners[resource["name"]] = listener["ListenerArn"]
    for resource in stack.of_type(ECS_CLUSTER):
        seeded.cluster = resource["inputs"]["name"]
        ecs.create_cluster(clusterName=seeded.cluster)
    register_templates(stack, ecs, seeded)
    for resource in stack.of_type(ECS_SERVICE):
        inputs = resource["inputs"]
        ecs.create_service(
            cluster=seeded.cluster,
            serviceName=inputs["name"],
            taskDefinition=seeded.task_definitions[template_of(stack, inputs["taskDefinition"])],
            desiredCount=inputs["desiredCount"],
            launchType="FARGATE",
        )
    suffix = {
        name: arn.split(":loadbalancer/", 1)[-1] for name, arn in seeded.load_balancers.items()
    }
    suffix.update({name: arn.rsplit(":", 1)[-1] for name, arn in seeded.target_groups.items()})
    for resource in stack.of_type(ALARM):
        inputs = resource["inputs"]
        statistic = (
            {"Statistic": inputs["statistic"]}
            if "statistic" in inputs
            else {"ExtendedStatistic": inputs["extendedStatistic"]}
        )
        cloudwatch.put_metric_alarm(
            AlarmName=inputs["name"],
            Namespace=inputs["namespace"],
            MetricName=inputs["metricName"],
            Dimensions=[
                {"Name": key, "Value": suffix[value.split("/")[1]]}
                for key, value in inputs["dimensions"].items()
            ],
            Period=inputs["period"],
            EvaluationPeriods=inputs["evaluationPeriods"],
            Threshold=float(inputs["threshold"]),
            ComparisonOperator=inputs["comparisonOperator"],
            TreatMissingData=inputs.get("treatMissingData", "missing"),
            **statistic,
        )
    return seeded


def register_templates(stack: RenderedStack, ecs: Any, seeded: Seeded) -> None:
    """Register each task definition the stack describes (a replaced template is a new
    revision of the same family)."""
    for resource in stack.of_type(TASK):
        inputs = resource["inputs"]
        task = ecs.register_task_definition(
            family=inputs["family"],
            containerDefinitions=json.loads(inputs["containerDefinitions"]),
            cpu=inputs["cpu"],
            memory=inputs["memory"],
            networkMode=inputs["networkMode"],
            requiresCompatibilities=inputs["requiresCompatibilities"],
            executionRoleArn=inputs["executionRoleArn"],
            tags=[{"key": k, "value": v} for k, v in inputs["tags"].items()],
        )["taskDefinition"]
        seeded.task_definitions[resource["name"]] = task["taskDefinitionArn"]


def update_stack(
    stack: RenderedStack, seeded: Seeded, clients: dict[str, Any], honour_ignore: bool = True
) -> None:
    """A later `pulumi up` of `stack` onto the seeded resources, at its worst for a rollout.

    Pulumi compares the program's inputs with its state, which `pulumi refresh` (or `up
    --refresh`) makes what is live, and the provider sends only the fields that differ. The
    worst case for a rollout is an older or newer commit whose every input differs from what
    is live: all of them are written, except those in the resource's `ignore_changes`, which
    the engine keeps as they are. Task-definition templates are registered again (a changed
    container JSON replaces the resource). `honour_ignore=False` shows what happens without.
    """
    register_templates(stack, clients["ecs"], seeded)
    for resource in stack.of_type(LISTENER):
        inputs, name = resource["inputs"], resource["name"]
        ignored = stack.ignore_changes.get(name, []) if honour_ignore else []
        request: dict[str, Any] = {
            "ListenerArn": seeded.listeners[name],
            "Port": inputs["port"],
            "Protocol": inputs["protocol"],
        }
        if "defaultActions" not in ignored:
            request["DefaultActions"] = [live_action(a, seeded) for a in inputs["defaultActions"]]
        clients["elbv2"].modify_listener(**request)
    for resource in stack.of_type(ECS_SERVICE):
        inputs, name = resource["inputs"], resource["name"]
        ignored = stack.ignore_changes.get(name, []) if honour_ignore else []
        update: dict[str, Any] = {"cluster": seeded.cluster, "service": inputs["name"]}
        if "taskDefinition" not in ignored:
            update["taskDefinition"] = seeded.task_definitions[
                template_of(stack, inputs["taskDefinition"])
            ]
        if "desiredCount" not in ignored:
            update["desiredCount"] = inputs["desiredCount"]
        clients["ecs"].update_service(**update)


def template_of(stack: RenderedStack, arn: str) -> str:
    """The logical name of the task definition a rendered ARN (task-definition/FAMILY:1)
    names."""
    family = arn.rsplit("/", 1)[-1].split(":")[0]
    (name,) = [r["name"] for r in stack.of_type(TASK) if r["inputs"]["family"] == family]
    return str(name)


def live_action(action: dict[str, Any], seeded: Seeded) -> dict[str, Any]:
    def arn_of(rendered_arn: str) -> str:
        return seeded.target_groups[rendered_arn.rsplit("/", 1)[-1]]

    if action["type"] == "redirect":
        redirect = action["redirect"]
        return {
            "Type": "redirect",
            "RedirectConfig": {
                "Protocol": redirect["protocol"],
                "Port": redirect["port"],
                "StatusCode": redirect["statusCode"],
            },
        }
    if "forward" in action:
        return {
            "Type": "forward",
            "ForwardConfig": {
                "TargetGroups": [
                    {"TargetGroupArn": arn_of(g["arn"]), "Weight": g["weight"]}
                    for g in action["forward"]["targetGroups"]
                ]
            },
        }
    return {"Type": "forward", "TargetGroupArn": arn_of(action["targetGroupArn"])}


def stack_outputs(
    stack: RenderedStack, seeded: Seeded, test_urls: dict[str, str]
) -> dict[str, Any]:
    """What `pulumi stack output --json` would print after the seeded `pulumi up`: the
    rendered outputs with the live ARNs, and each service's test URL pointing where the test
    plays the ALB's test listener."""
    outputs: dict[str, Any] = json.loads(json.dumps(stack.outputs))
    outputs["clusterName"] = seeded.cluster
    for name, service in outputs["services"].items():
        service["listenerArns"] = {
            which: seeded.listeners[f"{name}-{which}"] for which in ("production", "test")
        }
        service["targetGroupArns"] = {
            color: seeded.target_groups[f"{name}-{color}-tg"] for color in ("blue", "green")
        }
        service["taskDefinitionArns"] = {
            color: seeded.task_definitions[f"{name}-{color}-task"] for color in ("blue", "green")
        }
        service["albArnSuffix"] = seeded.load_balancers[f"{name}-alb"].split(":loadbalancer/")[1]
        if name in test_urls:
            service["testUrl"] = test_urls[name]
    return outputs


def clients_for(endpoint: str) -> dict[str, Any]:
    """boto3 clients for an emulator at `endpoint`, with its dummy credentials."""
    import boto3

    session = boto3.session.Session(
        region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )
    names = ("ec2", "elbv2", "ecs", "cloudwatch")
    return {name: session.client(name, endpoint_url=endpoint) for name in names}


def apply_stack(stack: RenderedStack, clients: dict[str, Any]) -> Seeded:
    """`pulumi up` for a test: the stack's resources, plus one registered (healthy) target per
    target group, as ECS would register its tasks."""
    seeded = seed(stack, clients["ec2"], clients["elbv2"], clients["ecs"], clients["cloudwatch"])
    for arn in seeded.target_groups.values():
        clients["elbv2"].register_targets(TargetGroupArn=arn, Targets=[{"Id": "10.99.0.10"}])
    return seeded
