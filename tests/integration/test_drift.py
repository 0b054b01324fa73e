"""`shipyard drift` against moto server on 127.0.0.1: seed matching resources, then change one
thing at a time and check each is caught."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from aws_harness.seed import Seeded, clients_for, seed
from parity.drift import run_drift
from parity.live import AwsClients
from parity.render import RenderedStack
from shipyard.config.load import StackSources
from tests.conftest import CliResult

pytestmark = pytest.mark.usefixtures("calls_within_policy")

REGION = "us-east-1"


@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    httpx.post(f"{moto_url}/moto-api/reset", timeout=30).raise_for_status()
    for key in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    return clients_for(moto_url)


@pytest.fixture
def dev(rendered: dict[str, RenderedStack]) -> RenderedStack:
    return rendered["dev"]


@pytest.fixture
def seeded(dev: RenderedStack, aws: dict[str, Any]) -> Seeded:
    return seed(dev, aws["ec2"], aws["elbv2"], aws["ecs"], aws["cloudwatch"])


def change_alarm(cloudwatch: Any, name: str, **changes: Any) -> None:
    """Re-put an existing alarm with some of its settings changed."""
    alarm = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    keep = ("AlarmName", "Namespace", "MetricName", "Dimensions", "Statistic", "Period")
    settings = {key: alarm[key] for key in keep}
    settings.update(
        EvaluationPeriods=alarm["EvaluationPeriods"],
        Threshold=alarm["Threshold"],
        ComparisonOperator=alarm["ComparisonOperator"],
    )
    cloudwatch.put_metric_alarm(**{**settings, **changes})


def drift_lines(dev: RenderedStack, moto_url: str) -> list[str]:
    report = run_drift(dev, AwsClients.connect(REGION, moto_url))
    return [f"{item.kind} {item.line()}" for item in report.items]


def test_a_matching_environment_has_no_drift(
    dev: RenderedStack, seeded: Seeded, moto_url: str
) -> None:
    report = run_drift(dev, AwsClients.connect(REGION, moto_url))
    assert report.items == []
    assert report.checked == {
        "load_balancers": 2,
        "listeners": 4,
        "target_groups": 4,
        "services": 4,
        "alarms": 12,
    }


def test_shifted_listener_weights_are_caught(
    dev: RenderedStack, seeded: Seeded, aws: dict[str, Any], moto_url: str
) -> None:
    aws["elbv2"].modify_listener(
        ListenerArn=seeded.listeners["web-production"],
        DefaultActions=[
            {
                "Type": "forward",
                "ForwardConfig": {
                    "TargetGroups": [
                        {"TargetGroupArn": seeded.target_groups["web-blue-tg"], "Weight": 50},
                        {"TargetGroupArn": seeded.target_groups["web-green-tg"], "Weight": 50},
                    ]
                },
            }
        ],
    )
    assert drift_lines(dev, moto_url) == [
        'changed web-production.weights: expected {"web-blue-tg": 0, "web-green-tg": 999}, '
        'live {"web-blue-tg": 50, "web-green-tg": 50}'
    ]


def test_a_test_listener_pointing_at_the_live_color_is_caught(
    dev: RenderedStack, seeded: Seeded, aws: dict[str, Any], moto_url: str
) -> None:
    aws["elbv2"].modify_listener(
        ListenerArn=seeded.listeners["web-test"],
        DefaultActions=[
            {"Type": "forward", "TargetGroupArn": seeded.target_groups["web-green-tg"]}
        ],
    )
    assert drift_lines(dev, moto_url) == [
        'changed web-test.weights: expected {"web-blue-tg": 1}, live {"web-green-tg": 1}'
    ]


def test_a_changed_health_check_is_caught(
    dev: RenderedStack, seeded: Seeded, aws: dict[str, Any], moto_url: str
) -> None:
    aws["elbv2"].modify_target_group(
        TargetGroupArn=seeded.target_groups["api-green-tg"], HealthCheckPath="/"
    )
    assert drift_lines(dev, moto_url) == [
        'changed api-green-tg.healthCheck.path: expected "/healthz", live "/"'
    ]


def test_a_changed_deregistration_delay_is_caught(
    dev: RenderedStack, seeded: Seeded, aws: dict[str, Any], moto_url: str
) -> None:
    aws["elbv2"].modify_target_group_attributes(
        TargetGroupArn=seeded.target_groups["web-blue-tg"],
        Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "300"}],
    )
    assert drift_lines(dev, moto_url) == [
        "changed web-blue-tg.deregistrationDelay: expected 30, live 300"
    ]


def test_a_scaled_service_is_caught(
    dev: RenderedStack, seeded: Seeded, aws: dict[str, Any], moto_url: str
) -> None:
    aws["ecs"].update_service(cluster=seeded.cluster, service="web-green", desiredCount=3)
    assert drift_lines(dev, moto_url) == ["changed web-green.desiredCount: expected 1, live 3"]


def test_a_service_running_another_image_is_caught(
    dev: RenderedStack, seeded: Seeded, aws: dict[str, Any], moto_url: str
) -> None:
    task = aws["ecs"].describe_task_definition(
        taskDefinition=seeded.task_definitions["api-blue-task"]
    )["taskDefinition"]
    containers = task["containerDefinitions"]
    containers[0]["image"] = containers[0]["image"].replace(":v1", ":hotfix")
    hotfix = aws["ecs"].register_task_definition(
        family=task["family"],
        containerDefinitions=containers,
        cpu=task["cpu"],
        memory=task["memory"],
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
    )["taskDefinition"]["taskDefinitionArn"]
    aws["ecs"].update_service(cluster=seeded.cluster, service="api-blue", taskDefinition=hotfix)
    (line,) = drift_lines(dev, moto_url)
    assert line.startswith('changed api-blue.image: expected "123456789012.dkr.ecr')
    assert line.endswith('shipyard-api:hotfix"')


def test_a_changed_alarm_threshold_is_caught(
    dev: RenderedStack, seeded: Seeded, aws: dict[str, Any], moto_url: str
) -> None:
    change_alarm(aws["cloudwatch"], "shipyard-dev-web-green-5xx", Threshold=100.0)
    assert drift_lines(dev, moto_url) == [
        "changed shipyard-dev-web-green-5xx.threshold: expected 10.0, live 100.0"
    ]


def test_an_alarm_wired_to_the_wrong_color_is_caught(
    dev: RenderedStack, seeded: Seeded, aws: dict[str, Any], moto_url: str
) -> None:
    name = "shipyard-dev-api-blue-unhealthy-hosts"
    alarm = aws["cloudwatch"].describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    green = seeded.target_groups["api-green-tg"].rsplit(":", 1)[-1]
    dimensions = [
        {"Name": d["Name"], "Value": green if d["Name"] == "TargetGroup" else d["Value"]}
        for d in alarm["Dimensions"]
    ]
    change_alarm(aws["cloudwatch"], name, Dimensions=dimensions)
    (line,) = drift_lines(dev, moto_url)
    assert line.startswith("changed shipyard-dev-api-blue-unhealthy-hosts.dimensions:")
    assert '"TargetGroup": "api-green-tg"' in line


def test_deleted_and_extra_resources_are_caught(
    dev: RenderedStack, seeded: Seeded, aws: dict[str, Any], moto_url: str
) -> None:
    aws["cloudwatch"].delete_alarms(AlarmNames=["shipyard-dev-api-green-p99-latency"])
    aws["elbv2"].delete_listener(ListenerArn=seeded.listeners["api-test"])
    vpc = aws["ec2"].describe_vpcs()["Vpcs"][-1]["VpcId"]
    aws["elbv2"].create_target_group(
        Name="dev-web-canary-tg",
        Protocol="HTTP",
        Port=8080,
        VpcId=vpc,
        TargetType="ip",
        Tags=[
            {"Key": "Name", "Value": "web-canary-tg"},
            {"Key": "shipyard:environment", "Value": "dev"},
        ],
    )
    aws["elbv2"].create_target_group(
        Name="staging-web-blue-tg",
        Protocol="HTTP",
        Port=8080,
        VpcId=vpc,
        TargetType="ip",
        Tags=[
            {"Key": "Name", "Value": "web-blue-tg"},
            {"Key": "shipyard:environment", "Value": "staging"},
        ],
    )
    assert drift_lines(dev, moto_url) == [
        "extra web-canary-tg: extra",
        "missing api-test: missing",
        "missing shipyard-dev-api-green-p99-latency: missing",
    ]


def test_drift_command_exit_codes_and_json(
    dev: RenderedStack,
    seeded: Seeded,
    aws: dict[str, Any],
    moto_url: str,
    cli: Callable[..., CliResult],
    repo_sources: StackSources,
) -> None:
    clean = cli("drift", "dev", "--endpoint-url", moto_url, project=repo_sources)
    assert clean.code == 0, clean
    assert "dev: no drift" in clean.out
    aws["ecs"].update_service(cluster=seeded.cluster, service="api-blue", desiredCount=0)
    drifted = cli(
        "drift", "dev", "--endpoint-url", moto_url, "--format", "json", project=repo_sources
    )
    assert drifted.code == 1
    report = json.loads(drifted.out)
    assert report["drifted"] is True
    assert report["counts"] == {"missing": 0, "extra": 0, "changed": 1}
    assert report["items"] == [
        {
            "resource": "api-blue",
            "kind": "changed",
            "property": "desiredCount",
            "expected": 1,
            "actual": 0,
        }
    ]
    assert drifted.err == "shipyard: dev has drifted: 1 difference(s) from its stack\n"


def test_unreachable_endpoint_is_one_line_exit_2(
    cli: Callable[..., CliResult], repo_sources: StackSources, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHIPYARD_AWS_MAX_ATTEMPTS", "2")  # retries back off: keep it short
    result = cli("drift", "dev", "--endpoint-url", "http://127.0.0.1:9", project=repo_sources)
    assert result.code == 2
    assert result.err.startswith("shipyard: cannot reach AWS:")
    assert len(result.err.splitlines()) == 1
