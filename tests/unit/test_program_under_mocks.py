"""The real Pulumi program (__main__.py) rendered under mocks, for dev, staging and prod.

Expected values come from each environment's validated config, with a few literal anchors
from the committed stack files so a change in both places at once is still noticed.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from parity.render import RenderedStack
from shipyard.config.load import StackSources, load_stack
from shipyard.config.model import Color, StackConfig
from tests.iam import POLICY

ENVS = ["dev", "staging", "prod"]
LISTENER = "aws:lb/listener:Listener"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
ECS_SERVICE = "aws:ecs/service:Service"
TASK = "aws:ecs/taskDefinition:TaskDefinition"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def config_of(sources: StackSources, env: str) -> StackConfig:
    return load_stack(sources, env).config


def arns(stack: RenderedStack, service: str) -> dict[str, str]:
    return dict(stack.outputs["services"][service]["targetGroupArns"])


def forward_weights(stack: RenderedStack, service: str) -> dict[str, int]:
    """The production listener's weights as written: ELBv2's 0..999 scale."""
    listener = stack.find(LISTENER, f"{service}-production")["inputs"]
    color_of = {arn: color for color, arn in arns(stack, service).items()}
    groups = listener["defaultActions"][0]["forward"]["targetGroups"]
    return {color_of[group["arn"]]: group["weight"] for group in groups}


def per_env(rendered: dict[str, RenderedStack], type_: str, name: str, key: str) -> dict[str, Any]:
    """One input of one resource, in every environment."""
    return {env: rendered[env].find(type_, name)["inputs"][key] for env in ENVS}


def test_committed_stacks_render_in_one_process(rendered: dict[str, RenderedStack]) -> None:
    assert set(rendered) == set(ENVS)
    for env, stack in rendered.items():
        assert stack.project == "shipyard"
        assert stack.stack == env
        assert stack.outputs["environment"] == env


@pytest.mark.parametrize("env", ENVS)
def test_listener_weights_follow_the_active_color(
    env: str, repo_sources: StackSources, rendered: dict[str, RenderedStack]
) -> None:
    for service in config_of(repo_sources, env).services:
        weights = forward_weights(rendered[env], service.name)
        assert weights == {
            service.active_color.value: 999,
            service.idle_color.value: 0,
        }


def test_dev_web_is_live_on_green_and_prod_web_on_blue(
    rendered: dict[str, RenderedStack],
) -> None:
    assert forward_weights(rendered["dev"], "web") == {"blue": 0, "green": 999}
    assert forward_weights(rendered["prod"], "web") == {"blue": 999, "green": 0}


@pytest.mark.parametrize("env", ENVS)
def test_test_listener_forwards_to_the_idle_color(
    env: str, repo_sources: StackSources, rendered: dict[str, RenderedStack]
) -> None:
    stack = rendered[env]
    for service in config_of(repo_sources, env).services:
        test = stack.find(LISTENER, f"{service.name}-test")["inputs"]
        assert test["port"] == service.test_port
        action = test["defaultActions"][0]
        assert action["type"] == "forward"
        assert action["targetGroupArn"] == arns(stack, service.name)[service.idle_color.value]


@pytest.mark.parametrize("env", ENVS)
def test_target_groups_take_health_check_and_deregistration_delay_from_config(
    env: str, repo_sources: StackSources, rendered: dict[str, RenderedStack]
) -> None:
    for service in config_of(repo_sources, env).services:
        check = service.health_check
        for color in Color:
            group = rendered[env].find(TARGET_GROUP, f"{service.name}-{color.value}-tg")
            inputs = group["inputs"]
            assert inputs["deregistrationDelay"] == service.deregistration_delay_seconds
            assert inputs["port"] == service.container_port
            assert inputs["targetType"] == "ip"
            assert inputs["healthCheck"] == {
                "enabled": True,
                "path": check.path,
                "port": "traffic-port",
                "protocol": "HTTP",
                "matcher": check.matcher,
                "interval": check.interval_seconds,
                "timeout": check.timeout_seconds,
                "healthyThreshold": check.healthy_threshold,
                "unhealthyThreshold": check.unhealthy_threshold,
            }


def test_prod_web_deregistration_delay_differs_from_the_template(
    rendered: dict[str, RenderedStack],
) -> None:
    delay = per_env(rendered, TARGET_GROUP, "web-blue-tg", "deregistrationDelay")
    assert delay == {"dev": 30, "staging": 30, "prod": 60}


@pytest.mark.parametrize("env", ENVS)
def test_desired_counts_put_tasks_on_the_live_color_only(
    env: str, repo_sources: StackSources, rendered: dict[str, RenderedStack]
) -> None:
    for service in config_of(repo_sources, env).services:
        for color in Color:
            ecs = rendered[env].find(ECS_SERVICE, f"{service.name}-{color.value}-service")
            expected = (
                service.desired_count
                if color is service.active_color
                else service.idle_desired_count
            )
            assert ecs["inputs"]["desiredCount"] == expected


def test_desired_counts_per_environment(rendered: dict[str, RenderedStack]) -> None:
    blue = per_env(rendered, ECS_SERVICE, "web-blue-service", "desiredCount")
    green = per_env(rendered, ECS_SERVICE, "web-green-service", "desiredCount")
    live = {env: blue[env] + green[env] for env in ENVS}
    assert live == {"dev": 1, "staging": 2, "prod": 4}


@pytest.mark.parametrize("env", ENVS)
def test_ecs_services_run_blue_green_safely(
    env: str, repo_sources: StackSources, rendered: dict[str, RenderedStack]
) -> None:
    stack = rendered[env]
    for service in config_of(repo_sources, env).services:
        for color in Color:
            inputs = stack.find(ECS_SERVICE, f"{service.name}-{color.value}-service")["inputs"]
            assert inputs["launchType"] == "FARGATE"
            assert inputs["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
            assert inputs["deploymentMinimumHealthyPercent"] == 100
            assert inputs["deploymentMaximumPercent"] == 200
            assert inputs["loadBalancers"] == [
                {
                    "targetGroupArn": arns(stack, service.name)[color.value],
                    "containerName": service.name,
                    "containerPort": service.container_port,
                }
            ]
            task = stack.find(TASK, f"{service.name}-{color.value}-task")["inputs"]
            family = f"{env}-{service.name}-{color.value}"
            assert inputs["taskDefinition"].endswith(f":task-definition/{family}:1")
            container = json.loads(task["containerDefinitions"])[0]
            assert container["image"] == f"{service.image}:{service.version_of(color)}"
            env_vars = {e["name"]: e["value"] for e in container["environment"]}
            assert env_vars["SHIPYARD_COLOR"] == color.value
            assert env_vars["SHIPYARD_VERSION"] == service.version_of(color)
            assert (task["cpu"], task["memory"]) == (str(service.cpu), str(service.memory))


def test_secrets_are_referenced_never_inlined(rendered: dict[str, RenderedStack]) -> None:
    task = rendered["prod"].find(TASK, "web-blue-task")["inputs"]
    container = json.loads(task["containerDefinitions"])[0]
    assert container["secrets"] == [
        {
            "name": "DATABASE_URL",
            "valueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:"
            "shipyard/prod/web/database-url",
        }
    ]
    assert "DATABASE_URL" not in {e["name"] for e in container["environment"]}
    # The committed stacks hold a partial ARN (no random suffix): granted verbatim, IAM would
    # deny GetSecretValue on the real ARN and no task would start.
    assert read_secrets_policy(rendered["prod"], "web") == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["secretsmanager:GetSecretValue"],
                "Resource": [
                    "arn:aws:secretsmanager:us-east-1:123456789012:secret:"
                    "shipyard/prod/web/database-url-??????"
                ],
            }
        ],
    }


# Each accepted form of `secrets:`, as written, and the Resource the execution role is granted.
SECRET_FORMS = {
    "FULL": (
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:shipyard/dev/web/full-AbCdEf",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:shipyard/dev/web/full-AbCdEf",
    ),
    "PARTIAL": (
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:shipyard/dev/web/partial",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:shipyard/dev/web/partial-??????",
    ),
    "JSON_KEY": (
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:shipyard/dev/web/db-Xy12Zw:password::",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:shipyard/dev/web/db-Xy12Zw",
    ),
    "JSON_KEY_PARTIAL": (
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:shipyard/dev/web/db:user:AWSCURRENT:",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:shipyard/dev/web/db-??????",
    ),
    "PARAMETER": (
        "arn:aws:ssm:us-east-1:123456789012:parameter/shipyard/dev/web/token",
        "arn:aws:ssm:us-east-1:123456789012:parameter/shipyard/dev/web/token",
    ),
}


def read_secrets_policy(stack: RenderedStack, service: str) -> dict[str, Any]:
    role_policy = stack.find("aws:iam/rolePolicy:RolePolicy", f"{service}-read-secrets")
    policy: dict[str, Any] = json.loads(role_policy["inputs"]["policy"])
    return policy


def test_each_secret_form_is_read_as_written_and_granted_as_iam_matches_it(
    project: StackSources, rerender: Callable[[str], RenderedStack]
) -> None:
    overlay = project.overlay("dev")
    doc: dict[str, Any] = yaml.safe_load(overlay.read_text())
    doc["services"][0]["secrets"] = {name: ref for name, (ref, _) in SECRET_FORMS.items()}
    overlay.write_text(yaml.safe_dump(doc))
    stack = rerender("dev")

    container = json.loads(stack.find(TASK, "web-blue-task")["inputs"]["containerDefinitions"])[0]
    template_secret = (
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:shipyard/dev/web/database-url"
    )
    written = {name: ref for name, (ref, _) in SECRET_FORMS.items()} | {
        "DATABASE_URL": template_secret
    }
    assert container["secrets"] == [
        {"name": name, "valueFrom": written[name]} for name in sorted(written)
    ]
    assert read_secrets_policy(stack, "web") == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["secretsmanager:GetSecretValue"],
                "Resource": [
                    f"{template_secret}-??????",
                    "arn:aws:secretsmanager:us-east-1:123456789012:secret:shipyard/dev/web/db-??????",
                    "arn:aws:secretsmanager:us-east-1:123456789012:secret:shipyard/dev/web/db-Xy12Zw",
                    "arn:aws:secretsmanager:us-east-1:123456789012:secret:shipyard/dev/web/full-AbCdEf",
                    "arn:aws:secretsmanager:us-east-1:123456789012:secret:shipyard/dev/web/partial-??????",
                ],
            },
            {
                "Effect": "Allow",
                "Action": ["ssm:GetParameters"],
                "Resource": ["arn:aws:ssm:us-east-1:123456789012:parameter/shipyard/dev/web/token"],
            },
        ],
    }
    # Every granted Resource is one of the forms' expected grants (and the template's).
    granted = {
        r
        for statement in read_secrets_policy(stack, "web")["Statement"]
        for r in statement["Resource"]
    }
    assert granted == {grant for _, grant in SECRET_FORMS.values()} | {f"{template_secret}-??????"}


@pytest.mark.parametrize("env", ENVS)
def test_each_alarm_watches_its_own_color_on_its_own_load_balancer(
    env: str, repo_sources: StackSources, rendered: dict[str, RenderedStack]
) -> None:
    config = config_of(repo_sources, env)
    stack = rendered[env]
    expected_thresholds = {
        "5xx": ("HTTPCode_Target_5XX_Count", config.alarms.http_5xx_count),
        "unhealthy-hosts": ("UnHealthyHostCount", config.alarms.unhealthy_hosts),
        "p99-latency": ("TargetResponseTime", config.alarms.p99_latency_seconds),
    }
    for service in config.services:
        outputs = stack.outputs["services"][service.name]
        for color in Color:
            for suffix, (metric, threshold) in expected_thresholds.items():
                alarm = stack.find(ALARM, f"{service.name}-alarms-{color.value}-{suffix}")
                inputs = alarm["inputs"]
                assert alarm["parent"] == f"{service.name}-alarms"
                assert inputs["metricName"] == metric
                assert inputs["threshold"] == threshold
                assert inputs["namespace"] == "AWS/ApplicationELB"
                assert inputs["period"] == config.alarms.period_seconds
                assert inputs["evaluationPeriods"] == config.alarms.evaluation_periods
                # Both keys must survive: under mocks an unresolved output silently drops them.
                assert inputs["dimensions"] == {
                    "LoadBalancer": outputs["albArnSuffix"],
                    "TargetGroup": outputs["targetGroupArnSuffixes"][color.value],
                }
        p99 = stack.find(ALARM, f"{service.name}-alarms-blue-p99-latency")["inputs"]
        assert p99["extendedStatistic"] == "p99"


def test_prod_alarms_use_prods_5xx_threshold(rendered: dict[str, RenderedStack]) -> None:
    threshold = per_env(rendered, ALARM, "web-alarms-green-5xx", "threshold")
    assert threshold == {"dev": 10, "staging": 10, "prod": 5}


@pytest.mark.parametrize("env", ENVS)
def test_https_and_redirect_appear_only_with_a_certificate(
    env: str, repo_sources: StackSources, rendered: dict[str, RenderedStack]
) -> None:
    config = config_of(repo_sources, env)
    stack = rendered[env]
    names = {r["name"] for r in stack.of_type(LISTENER)}
    for service in config.services:
        production = stack.find(LISTENER, f"{service.name}-production")["inputs"]
        redirect_name = f"{service.name}-http-redirect"
        if config.tls is None:
            assert production["port"] == 80
            assert production["protocol"] == "HTTP"
            assert "certificateArn" not in production
            assert redirect_name not in names
            assert stack.outputs["services"][service.name]["url"].startswith("http://")
        else:
            assert production["port"] == 443
            assert production["protocol"] == "HTTPS"
            assert production["certificateArn"] == config.tls.certificate_arn
            redirect = stack.find(LISTENER, redirect_name)["inputs"]
            assert redirect["port"] == 80
            assert redirect["defaultActions"] == [
                {
                    "type": "redirect",
                    "redirect": {"port": "443", "protocol": "HTTPS", "statusCode": "HTTP_301"},
                }
            ]
            assert stack.outputs["services"][service.name]["url"].startswith("https://")


def test_only_prod_has_a_certificate(rendered: dict[str, RenderedStack]) -> None:
    protocols = per_env(rendered, LISTENER, "web-production", "protocol")
    assert protocols == {"dev": "HTTP", "staging": "HTTP", "prod": "HTTPS"}


def test_switching_the_active_color_swaps_weights_and_the_test_listener(
    project: StackSources, rerender: Callable[[str], RenderedStack]
) -> None:
    before = rerender("staging")
    overlay = project.overlay("staging")
    doc: dict[str, Any] = yaml.safe_load(overlay.read_text())
    doc["services"] = [{"name": "web", "activeColor": "green", "versions": {"green": "v2"}}]
    overlay.write_text(yaml.safe_dump(doc))
    after = rerender("staging")

    assert forward_weights(before, "web") == {"blue": 999, "green": 0}
    assert forward_weights(after, "web") == {"blue": 0, "green": 999}
    test_before = before.find(LISTENER, "web-test")["inputs"]["defaultActions"][0]
    test_after = after.find(LISTENER, "web-test")["inputs"]["defaultActions"][0]
    assert test_before["targetGroupArn"] == arns(before, "web")["green"]
    assert test_after["targetGroupArn"] == arns(after, "web")["blue"]
    counts = {
        color: after.find(ECS_SERVICE, f"web-{color}-service")["inputs"]["desiredCount"]
        for color in ("blue", "green")
    }
    assert counts == {"blue": 0, "green": 2}
    assert after.outputs["services"]["web"]["activeColor"] == "green"
    # The other service is untouched.
    assert forward_weights(after, "api") == forward_weights(before, "api")


def test_explicit_weights_split_production_traffic(
    project: StackSources, rerender: Callable[[str], RenderedStack]
) -> None:
    overlay = project.overlay("dev")
    doc: dict[str, Any] = yaml.safe_load(overlay.read_text())
    doc["services"][0]["weights"] = {"blue": 10, "green": 90}
    overlay.write_text(yaml.safe_dump(doc))
    stack = rerender("dev")
    assert forward_weights(stack, "web") == {"blue": 100, "green": 899}  # 10% / 90% of 999
    # A color that takes traffic runs its full count.
    counts = {
        color: stack.find(ECS_SERVICE, f"web-{color}-service")["inputs"]["desiredCount"]
        for color in ("blue", "green")
    }
    assert counts == {"blue": 1, "green": 1}


def test_network_spans_the_configured_zones(rendered: dict[str, RenderedStack]) -> None:
    prod = rendered["prod"]
    subnets = prod.of_type("aws:ec2/subnet:Subnet")
    zones = sorted({s["inputs"]["availabilityZone"] for s in subnets})
    assert zones == ["us-east-1a", "us-east-1b", "us-east-1c"]
    assert len(subnets) == 6
    assert len(prod.of_type("aws:ec2/natGateway:NatGateway")) == 3
    cidrs = sorted(s["inputs"]["cidrBlock"] for s in subnets)
    assert cidrs[0] == "10.30.0.0/20"
    assert all(s["parent"] == "network" for s in subnets)


def test_dev_without_nat_runs_tasks_in_public_subnets(rendered: dict[str, RenderedStack]) -> None:
    dev = rendered["dev"]
    assert dev.of_type("aws:ec2/natGateway:NatGateway") == []
    public_ids = set()
    ecs = dev.find(ECS_SERVICE, "web-green-service")["inputs"]["networkConfiguration"]
    for subnet in dev.of_type("aws:ec2/subnet:Subnet"):
        if subnet["inputs"]["mapPublicIpOnLaunch"]:
            public_ids.add(subnet["name"])
    assert ecs["assignPublicIp"] is True
    assert len(ecs["subnets"]) == len(public_ids) == 2


def test_adopting_an_existing_vpc_creates_no_network(
    project: StackSources, rerender: Callable[[str], RenderedStack]
) -> None:
    overlay = project.overlay("staging")
    doc: dict[str, Any] = yaml.safe_load(overlay.read_text())
    doc["network"] = {
        "cidr": None,
        "vpcId": "vpc-0abc",
        "publicSubnetIds": ["subnet-pub1", "subnet-pub2"],
        "privateSubnetIds": ["subnet-priv1", "subnet-priv2"],
        "testAccessCidrs": ["10.50.0.0/16"],
    }
    overlay.write_text(yaml.safe_dump(doc))
    stack = rerender("staging")
    assert stack.of_type("aws:ec2/vpc:Vpc") == []
    assert stack.of_type("aws:ec2/subnet:Subnet") == []
    assert stack.find(TARGET_GROUP, "web-blue-tg")["inputs"]["vpcId"] == "vpc-0abc"
    network = stack.find(ECS_SERVICE, "web-blue-service")["inputs"]["networkConfiguration"]
    assert network["subnets"] == ["subnet-priv1", "subnet-priv2"]
    assert network["assignPublicIp"] is False
    assert stack.find("aws:lb/loadBalancer:LoadBalancer", "web-alb")["inputs"]["subnets"] == [
        "subnet-pub1",
        "subnet-pub2",
    ]


def test_every_child_is_parented_and_named_after_its_component(
    rendered: dict[str, RenderedStack],
) -> None:
    top_level = {
        "aws:ecs/cluster:Cluster",
        "shipyard:network:Network",
        "shipyard:service:BlueGreenService",
    }
    for stack in rendered.values():
        for resource in stack.resources:
            parent = resource["parent"]
            if resource["type"] in top_level:
                assert parent is None, resource["name"]
                continue
            assert parent is not None, resource["name"]
            assert resource["name"].startswith(parent + "-"), (resource["name"], parent)


def test_stack_outputs_describe_each_service(rendered: dict[str, RenderedStack]) -> None:
    web = rendered["prod"].outputs["services"]["web"]
    assert set(web) >= {
        "albDnsName",
        "url",
        "testUrl",
        "targetGroupArns",
        "listenerArns",
        "activeColor",
        "versions",
    }
    assert web["testUrl"] == f"https://{web['albDnsName']}:9000"
    assert web["listenerArns"]["production"].endswith("/web-production")
    assert web["versions"] == {"blue": "v1", "green": "v1"}


def test_logical_names_are_unique_within_each_stack(rendered: dict[str, RenderedStack]) -> None:
    # Parity keys resources by logical name alone, so no two resources may share one.
    for stack in rendered.values():
        names = [r["name"] for r in stack.resources]
        assert len(names) == len(set(names)), stack.stack


@pytest.mark.parametrize("env", ENVS)
def test_the_version_enters_each_task_definition_only_through_the_shared_rule(
    env: str, repo_sources: StackSources, rendered: dict[str, RenderedStack]
) -> None:
    """The fleet registers new revisions with `shipyard.revision`; the program must build its
    own with the same rule, or a rollout's revision would differ from what `pulumi up` made."""
    from components.blue_green_service import container_template, revision_of
    from components.tags import tagged
    from shipyard.revision import containers_at, tag_of, tags_at

    config = config_of(repo_sources, env)
    base = {"shipyard:environment": env, "shipyard:project": "shipyard"}
    for service in config.services:
        for color in Color:
            name = f"{service.name}-{color.value}-task"
            task = rendered[env].find(TASK, name)["inputs"]
            template = container_template(
                service, color, config.region, f"/shipyard/{env}/{service.name}"
            )
            # The template holds no version: only the rule puts one in.
            assert tag_of(template["image"]) is None
            assert not {e["name"] for e in template["environment"]} & {
                "SHIPYARD_VERSION",
                "SHIPYARD_COLOR",
            }
            revision = revision_of(service, color)
            assert json.loads(task["containerDefinitions"]) == containers_at([template], revision)
            assert task["tags"] == tags_at(tagged(base, name, service=service.name), revision)
            assert task["tags"]["shipyard:version"] == service.version_of(color)


def test_task_definitions_wait_for_their_log_group_and_their_roles_grants(
    rendered: dict[str, RenderedStack],
) -> None:
    # ECS starts a task as soon as its service points at the task definition: its log group
    # and its execution role's grants (the managed policy, the secrets it reads) must exist
    # first, or the task fails with ResourceNotFound or AccessDenied.
    for env in ENVS:
        for color in ("blue", "green"):
            waits_for = rendered[env].depends_on[f"web-{color}-task"]
            assert {
                "web-logs",
                "web-execution-role",
                "web-execution-policy",
                "web-read-secrets",
            } <= set(waits_for), (env, color, waits_for)
            # api reads no secret: nothing to wait for but its log group and managed policy.
            api = set(rendered[env].depends_on[f"api-{color}-task"])
            assert {"api-logs", "api-execution-policy"} <= api and "api-read-secrets" not in api


def test_pulumi_up_sets_traffic_and_versions_only_when_it_creates_them(
    project: StackSources, rerender: Callable[[str], RenderedStack]
) -> None:
    """The stack as an older commit holds it, and the same stack after a rollout's write-back,
    differ in listeners and ECS services only in inputs the engine leaves alone after creation:
    a `pulumi up` from either commit moves no traffic and changes no color's version."""
    from components.blue_green_service import SHIPYARD_OWNS
    from shipyard.config.record import record_live

    owned = {
        token: sorted(_camel(name) for name in names) for token, names in SHIPYARD_OWNS.items()
    }
    for env in ENVS:
        before = rerender(env)
        web = config_of(project, env).service("web")
        flipped = web.idle_color
        record_live(project, env, "web", flipped, {flipped: "9f8e7d6", web.active_color: None})
        after = rerender(env)
        assert forward_weights(after, "web")[flipped.value] == 999  # the render did change
        changed_types = set()
        for resource in after.resources:
            old = before.find(resource["type"], resource["name"])["inputs"]
            changed = {k for k, v in resource["inputs"].items() if old.get(k) != v}
            if not changed:
                continue
            changed_types.add(resource["type"])
            if resource["type"] in owned:
                ignored = after.ignore_changes.get(resource["name"], [])
                assert ignored == owned[resource["type"]], resource["name"]
                assert changed <= set(ignored), (env, resource["name"], changed - set(ignored))
        # Only the listeners, the services and the task-definition templates follow a rollout.
        assert changed_types == {LISTENER, ECS_SERVICE, TASK}, (env, changed_types)
        # Every ECS service, and every listener that forwards to a color, carries the option,
        # changed or not; the HTTP->HTTPS redirect forwards nowhere and stays Pulumi's.
        carriers = {
            r["name"]
            for r in after.resources
            if r["type"] == ECS_SERVICE
            or (r["type"] == LISTENER and r["inputs"]["defaultActions"][0]["type"] == "forward")
        }
        assert set(after.ignore_changes) == carriers
        type_of = {resource["name"]: resource["type"] for resource in after.resources}
        for name in carriers:
            assert after.ignore_changes[name] == owned[type_of[name]]


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part.title() for part in rest)


@pytest.mark.parametrize("env", ENVS)
def test_roles_live_under_the_path_the_deployer_may_pass(
    env: str, rendered: dict[str, RenderedStack]
) -> None:
    """Each execution role is created under /shipyard/<env>/, and the ARN every task
    definition names is one the deployer's iam:PassRole grant matches (and no other role is)."""
    statements = json.loads(POLICY.read_text(encoding="utf-8"))["Statement"]
    (grant,) = [s["Resource"] for s in statements if s["Action"] == "iam:PassRole"]
    for service in ("web", "api"):
        role = rendered[env].find("aws:iam/role:Role", f"{service}-execution-role")["inputs"]
        assert role["path"] == f"/shipyard/{env}/"
        for color in Color:
            task = rendered[env].find(TASK, f"{service}-{color.value}-task")["inputs"]
            assert fnmatch.fnmatchcase(task["executionRoleArn"], grant), task["executionRoleArn"]
            assert f":role/shipyard/{env}/" in task["executionRoleArn"]
