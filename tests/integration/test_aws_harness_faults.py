"""The AWS harness under what a user (or a test) may do to it through the API, and when its
owner dies: it stays up and keeps answering, or goes away leaving nothing behind.

Given dev on the harness: web live on green v2 (blue scaled to 0), api live on blue v1; api's
tasks answer every request 1.2 s late (APP_LATENCY_MS=1200, under the 5 s check timeout).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from aws_harness.fixture import REPO, AwsWorld
from rollout.platforms.local.owned import marker, strays
from rollout.platforms.local.processes import alive
from shipyard.config.load import StackSources
from shipyard.stacks import plan_stack_files, write_stack_files
from tests.conftest import copy_project
from tests.integration.test_aws_harness import await_true, ecs_service, targets


def prepared(root: Path, api: dict[str, Any]) -> StackSources:
    project = copy_project(root)
    overlay = project.overlay("dev")
    doc: dict[str, Any] = yaml.safe_load(overlay.read_text())
    for service in doc["services"]:
        if service["name"] == "api":
            service.update(api)
    overlay.write_text(yaml.safe_dump(doc))
    write_stack_files(project, plan_stack_files(project))
    return project


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsWorld]:
    root = tmp_path_factory.mktemp("faults") / "project"
    project = prepared(root, {"environment": {"APP_LATENCY_MS": "1200"}})
    with AwsWorld.start(project.root) as started:
        yield started


def serving(world: AwsWorld) -> bool:
    """The harness still answers: web's production listener serves v2 and moto answers."""
    world.client("ecs").list_clusters()
    return httpx.get(f"{world.url('web')}/version", timeout=5).json()["version"] == "v2"


def test_a_slow_health_check_within_the_target_groups_timeout_is_healthy(
    world: AwsWorld,
) -> None:
    # 1.2 s answers, checked every 300 ms: healthy, as with the ALB's 5 s timeoutSeconds
    assert {state for _, state in targets(world, "api", "blue")} == {"healthy"}


def test_a_listener_forwarding_elsewhere_is_accepted_and_serves_nothing_there(
    world: AwsWorld,
) -> None:
    elbv2 = world.client("elbv2")
    out = world.outputs["services"]["web"]
    listener = out["listenerArns"]["test"]
    stray = elbv2.create_target_group(
        Name="stray", Protocol="HTTP", Port=80, VpcId=vpc_of(world), TargetType="ip"
    )["TargetGroups"][0]["TargetGroupArn"]
    other = world.outputs["services"]["api"]["targetGroupArns"]["blue"]
    for arn in (stray, other):  # a group nobody runs; another service's group
        elbv2.modify_listener(
            ListenerArn=listener, DefaultActions=[{"Type": "forward", "TargetGroupArn": arn}]
        )
        assert httpx.get(f"{world.test_url('web')}/version", timeout=5).status_code == 503
        assert httpx.get(f"{world.url('api')}/version", timeout=5).status_code == 200
    elbv2.modify_listener(
        ListenerArn=listener,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": out["targetGroupArns"]["green"]}],
    )
    assert httpx.get(f"{world.test_url('web')}/version", timeout=5).json()["version"] == "v2"
    assert serving(world)


def test_a_revision_without_the_services_container_runs_nothing_and_breaks_nothing(
    world: AwsWorld,
) -> None:
    ecs = world.client("ecs")
    cluster, name = ecs_service(world, "web", "blue")
    family = world.outputs["services"]["web"]["taskDefinitionArns"]["blue"]
    family = family.rsplit("/", 1)[1].split(":")[0]
    stray = ecs.register_task_definition(
        family=family, containerDefinitions=[{"name": "other", "image": "x:v9", "memory": 64}]
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster=cluster, service=name, taskDefinition=stray, desiredCount=1)
    described = ecs.describe_services(cluster=cluster, services=[name])["services"][0]
    assert described["runningCount"] == 0
    assert described["deployments"][0]["rolloutState"] == "IN_PROGRESS"
    ecs.update_service(cluster=cluster, service=name, desiredCount=0)
    assert serving(world)


def test_alarms_are_read_as_cloudwatch_holds_them_now(world: AwsWorld) -> None:
    cloudwatch = world.client("cloudwatch")
    names = world.outputs["services"]["web"]["alarmNames"]["green"]
    cloudwatch.delete_alarms(AlarmNames=[names["unhealthy-hosts"]])
    dimensions = [
        {"Name": "TargetGroup", "Value": "targetgroup/" + group_suffix(world)},
        {"Name": "LoadBalancer", "Value": world.outputs["services"]["web"]["albArnSuffix"]},
    ]
    cloudwatch.put_metric_alarm(
        AlarmName="late-requests",
        Namespace="AWS/ApplicationELB",
        MetricName="RequestCount",
        Dimensions=dimensions,
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )

    def fired() -> bool:
        httpx.get(f"{world.url('web')}/version", timeout=5)
        (alarm,) = cloudwatch.describe_alarms(AlarmNames=["late-requests"])["MetricAlarms"]
        return bool(alarm["StateValue"] == "ALARM")

    await_true("an alarm created after the harness started fires", fired)
    assert serving(world)


def vpc_of(world: AwsWorld) -> str:
    group = world.outputs["services"]["web"]["targetGroupArns"]["green"]
    found = world.client("elbv2").describe_target_groups(TargetGroupArns=[group])
    return str(found["TargetGroups"][0]["VpcId"])


def group_suffix(world: AwsWorld) -> str:
    return str(
        world.outputs["services"]["web"]["targetGroupArns"]["green"].split("targetgroup/")[1]
    )


def test_a_task_that_exits_at_once_is_replaced_slower_and_slower(tmp_path: Path) -> None:
    spawns = tmp_path / "spawns"
    command = ["{python}", "-c", f"open({str(spawns)!r}, 'a').write('x')"]
    project = prepared(tmp_path / "project", {"local": {"command": command}})
    with AwsWorld.start(project.root) as world:  # ready at once: api can never be healthy
        started = spawns.stat().st_size
        await_true("api's tasks are started again", lambda: spawns.stat().st_size > started)
        assert serving(world)
    # Backoff from 0.5 s, doubled each time: a handful, never one every tick (0.05 s).
    assert spawns.stat().st_size <= 8


def test_the_harness_stops_with_the_process_that_started_it(tmp_path: Path) -> None:
    project = prepared(tmp_path / "project", {})
    state = tmp_path / "state"
    owner = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time
                from pathlib import Path
                from aws_harness.fixture import AwsWorld
                with AwsWorld.start(Path({str(project.root)!r}), state=Path({str(state)!r})) as w:
                    print(w.facts["pid"], flush=True)
                    time.sleep(300)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert owner.stdout is not None
    with owner.stdout:
        harness = int(owner.stdout.readline())
    assert strays(state), "the harness runs tasks and HAProxy"
    owner.send_signal(signal.SIGKILL)
    owner.wait()
    await_true("the harness sees its owner gone and stops", lambda: not alive(harness))
    await_true("nothing it started is left", lambda: not strays(state))


def test_a_second_demo_aws_in_the_same_checkout_is_refused_and_touches_nothing(
    tmp_path: Path,
) -> None:
    project = prepared(tmp_path / "project", {})
    state = project.root / ".shipyard" / "demo-aws" / ".shipyard" / "aws-harness"
    state.mkdir(parents=True)
    kept = state / "harness.log"
    kept.write_text("the running demo's log\n")
    running = subprocess.Popen(  # stands for the first demo's HAProxy: it carries the marker
        ["sleep", "60"], env={**os.environ, **marker(state)}
    )
    try:
        second = harness("demo", "--project", str(project.root))
        assert second.returncode == 2, second.stderr
        assert second.stderr.count("\n") == 1 and "already running" in second.stderr
        assert str(running.pid) in second.stderr
        assert kept.read_text() == "the running demo's log\n"
    finally:
        running.kill()
        running.wait()


def test_bad_input_to_the_harness_is_one_line_and_exit_2(tmp_path: Path) -> None:
    not_a_project = harness("demo", "--project", str(tmp_path))
    assert not_a_project.returncode == 2
    assert not_a_project.stderr.count("\n") == 1, not_a_project.stderr
    project = prepared(tmp_path / "project", {})
    ready = tmp_path / "ready.json"
    serve = ("serve", "--project", str(project.root), "--state", str(tmp_path / "state"))
    unknown = harness(*serve, "--ready", str(ready), "--env", "nope")
    assert unknown.returncode == 2 and "nope" in unknown.stderr.splitlines()[-1]
    assert "Traceback" not in unknown.stderr
    stopped = harness(*serve, "--ready", str(ready), "--speedup", "0")
    assert stopped.returncode == 2 and "--speedup" in stopped.stderr.splitlines()[-1]
    assert not ready.exists()


def harness(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aws_harness", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
