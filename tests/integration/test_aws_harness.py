"""The AWS harness itself (aws_harness/): ECS services that really run what DescribeServices
says, target health from real health checks, CloudWatch metrics from served traffic, alarms
evaluated as CloudWatch does, and nothing left behind or listening beyond loopback.

Given dev on the harness, its api's tasks failing their health check (APP_FAIL_HEALTH=1): web
live on green v2 with blue scaled to 0, api live on blue v1.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from aws_harness.fixture import AwsWorld
from aws_harness.metrics import Metrics, Sample, statistic
from rollout.platforms.aws.health import arn_suffix
from rollout.platforms.local.owned import strays
from shipyard.config.model import Color
from shipyard.stacks import plan_stack_files, write_stack_files
from tests.conftest import copy_project

DEADLINE = 30.0
LOOPBACK = "0100007F"  # 127.0.0.1 as /proc/net/tcp writes it
LISTEN = "0A"


def await_true(what: str, check: Callable[[], Any], timeout: float = DEADLINE) -> Any:
    """Poll `check` until it answers something truthy; that answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout:g} s")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsWorld]:
    project = copy_project(tmp_path_factory.mktemp("harness") / "project")
    overlay = project.overlay("dev")
    doc: dict[str, Any] = yaml.safe_load(overlay.read_text())
    for service in doc["services"]:
        if service["name"] == "api":
            service["environment"] = {"APP_FAIL_HEALTH": "1"}
    overlay.write_text(yaml.safe_dump(doc))
    write_stack_files(project, plan_stack_files(project))
    with AwsWorld.start(project.root) as started:
        yield started


def ecs_service(world: AwsWorld, service: str, color: str) -> tuple[str, str]:
    out = world.outputs
    return out["clusterName"], out["services"][service]["ecsServiceNames"][color]


def targets(world: AwsWorld, service: str, color: str) -> list[tuple[str, str]]:
    group = world.outputs["services"][service]["targetGroupArns"][color]
    found = world.client("elbv2").describe_target_health(TargetGroupArn=group)
    return [
        (d["Target"]["Id"], d["TargetHealth"]["State"]) for d in found["TargetHealthDescriptions"]
    ]


def test_desired_count_is_what_runs_down_to_zero(world: AwsWorld) -> None:
    ecs = world.client("ecs")
    cluster, name = ecs_service(world, "web", "blue")

    def described() -> dict[str, Any]:
        return dict(ecs.describe_services(cluster=cluster, services=[name])["services"][0])

    assert (described()["runningCount"], targets(world, "web", "blue")) == (0, [])
    before = set(strays(world.state))

    ecs.update_service(cluster=cluster, service=name, desiredCount=1)
    await_true(
        "a healthy blue target",
        lambda: [s for _, s in targets(world, "web", "blue")] == ["healthy"],
    )
    steady = await_true(
        "one completed deployment",
        lambda: (d := described())["runningCount"] == 1 and len(d["deployments"]) == 1 and d,
    )
    assert steady["deployments"][0]["rolloutState"] == "COMPLETED"
    (started,) = set(strays(world.state)) - before

    ecs.update_service(cluster=cluster, service=name, desiredCount=0)
    await_true("no blue target", lambda: targets(world, "web", "blue") == [])
    await_true("the task's process gone", lambda: started not in strays(world.state))
    assert described()["runningCount"] == 0


def test_a_task_failing_its_health_check_is_an_unhealthy_target(world: AwsWorld) -> None:
    group = world.outputs["services"]["api"]["targetGroupArns"]["blue"]
    elbv2 = world.client("elbv2")

    def unhealthy() -> list[dict[str, Any]]:
        found = elbv2.describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]
        return [d for d in found if d["TargetHealth"]["State"] == "unhealthy"]

    (target,) = await_true("an unhealthy api target", unhealthy)
    assert target["TargetHealth"]["Reason"] == "Target.FailedHealthChecks"
    assert httpx.get(f"{world.url('api')}/version", timeout=5).status_code == 503


def test_cloudwatch_counts_the_requests_served(world: AwsWorld) -> None:
    web = world.outputs["services"]["web"]
    dimensions = [
        {
            "Name": "TargetGroup",
            "Value": arn_suffix(web["targetGroupArns"]["green"], "targetgroup/"),
        },
        {"Name": "LoadBalancer", "Value": web["albArnSuffix"]},
    ]
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    with httpx.Client(timeout=5) as client:
        answers = [client.get(f"{world.url('web')}/version") for _ in range(40)]
    assert {(a.status_code, a.headers["X-App-Version"]) for a in answers} == {(200, "v2")}
    cloudwatch = world.client("cloudwatch")

    def counted() -> int:
        found = cloudwatch.get_metric_data(
            MetricDataQueries=[
                {
                    "Id": "requests",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "AWS/ApplicationELB",
                            "MetricName": "RequestCount",
                            "Dimensions": dimensions,
                        },
                        "Period": 60,
                        "Stat": "Sum",
                    },
                }
            ],
            StartTime=start,
            EndTime=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1),
        )
        return int(round(sum(found["MetricDataResults"][0]["Values"])))

    # earlier tests' traffic to web green counts too: at least these 40
    assert await_true("40 requests counted", lambda: counted() >= 40 and counted()) >= 40


# -- alarms as CloudWatch evaluates them, on synthetic samples ---------------------------------

KEY = ("api", Color.GREEN)
NOW = 1_000_000.0


def alarm(**fields: Any) -> dict[str, Any]:
    return {
        "AlarmName": "api-green-5xx",
        "Namespace": "AWS/ApplicationELB",
        "MetricName": "HTTPCode_Target_5XX_Count",
        "Dimensions": [{"Name": "TargetGroup", "Value": "targetgroup/api-green/1"}],
        "Statistic": "Sum",
        "Period": 60,
        "EvaluationPeriods": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "Threshold": 1.0,
        **fields,
    }


def metrics(samples: list[Sample]) -> Metrics:
    """Metrics at speedup 60 (a 60 s period is 1 s) holding `samples` for api's green."""
    found = Metrics(
        Path("/nonexistent/requests.log"),
        None,
        {KEY: alarm()["Dimensions"]},
        lambda backend, server: None,
        speedup=60,
    )
    found.history[KEY] = deque(samples)
    return found


def state(samples: list[Sample], **fields: Any) -> str | None:
    return metrics(samples)._state(alarm(**fields), NOW)


def test_statistics_over_one_periods_samples() -> None:
    samples = [Sample(NOW, requests=10, http_5xx=2), Sample(NOW, requests=5, http_5xx=1)]
    assert statistic(alarm(), samples) == 3
    assert statistic(alarm(Statistic="Maximum"), samples) == 2
    # no request in the period: the ALB publishes no datapoint
    assert statistic(alarm(), [Sample(NOW)]) is None
    timed = [Sample(NOW, requests=100, times=[i / 100 for i in range(1, 101)])]
    p99 = alarm(MetricName="TargetResponseTime", Statistic=None, ExtendedStatistic="p99")
    assert statistic(p99, timed) == 0.99
    hosts = [Sample(NOW, healthy=2, unhealthy=1), Sample(NOW, healthy=1, unhealthy=0)]
    assert statistic(alarm(MetricName="UnHealthyHostCount", Statistic="Maximum"), hosts) == 1


def test_an_alarm_needs_datapoints_to_alarm_of_its_periods_breaching() -> None:
    # periods are 1 s: [NOW-1, NOW), [NOW-2, NOW-1), [NOW-3, NOW-2)
    one_bad = [Sample(NOW - 0.5, requests=9, http_5xx=1), Sample(NOW - 1.5, requests=9)]
    assert state(one_bad) == "ALARM"
    assert state(one_bad, EvaluationPeriods=2) == "OK"  # default: every period must breach
    two_bad = [*one_bad, Sample(NOW - 2.5, requests=9, http_5xx=3)]
    assert state(two_bad, EvaluationPeriods=3, DatapointsToAlarm=2) == "ALARM"
    assert state(two_bad, EvaluationPeriods=3, DatapointsToAlarm=3) == "OK"
    # a sample older than the periods evaluated counts for nothing
    assert state([Sample(NOW - 1.5, requests=9, http_5xx=9)]) is None


def test_missing_data_is_treated_as_the_alarm_says() -> None:
    quiet = [Sample(NOW - 0.5)]  # an interval without requests: no datapoint
    assert state(quiet) is None  # missing (default): the state stays as it is
    assert state(quiet, TreatMissingData="missing") is None
    assert state(quiet, TreatMissingData="notBreaching") == "OK"
    assert state(quiet, TreatMissingData="breaching") == "ALARM"


# -- leaving the world ---------------------------------------------------------------------


def listening_inodes(pids: list[int]) -> set[str]:
    inodes = set()
    for pid in pids:
        try:
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            continue
        inodes |= {link[8:-1] for link in links if link.startswith("socket:[")}
    return inodes


def listening_addresses(inodes: set[str]) -> list[str]:
    """The local address of every listening TCP socket among `inodes` (IPv4 and IPv6)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == LISTEN and fields[9] in inodes:
                found.append(fields[1].split(":")[0])
    return found


def test_a_ready_world_serves_and_leaving_it_leaves_nothing_listening_beyond_loopback(
    tmp_path: Path,
) -> None:
    project = copy_project(tmp_path / "project")
    with AwsWorld.start(project.root) as world:
        state = world.state
        # ready means serving: the live tasks passed their checks (so their ports are open)
        assert (world.version("web"), world.version("api")) == ("v2", "v1")
        pids = [world.process.pid, *strays(state)]  # the harness, HAProxy, the tasks
        addresses = listening_addresses(listening_inodes(pids))
    # moto, HAProxy's production and test listener per service, every task's port
    assert len(addresses) >= 1 + 4 + 2, addresses
    assert set(addresses) == {LOOPBACK}, addresses
    assert strays(state) == []
