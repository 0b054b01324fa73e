"""The AWS platform's router and health source against moto server on 127.0.0.1, driven by
the same executor as the local platform (ECS fleet: a fake until the ECS fleet lands)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from aws_harness.seed import Seeded, clients_for, seed
from parity.render import RenderedStack
from rollout.executor import Executor, Target
from rollout.fakes import FakeFleet
from rollout.ledger import SqliteLedger
from rollout.plan import Release, build_plan
from rollout.platforms.aws.health import AwsHealth
from rollout.platforms.aws.router import ElbRouter, ElbTestRouter
from shipyard.config.load import StackSources, load_stack
from shipyard.config.model import Color, Deploy
from smoke.runner import CheckResult, SmokeReport

BLUE, GREEN = Color.BLUE, Color.GREEN


@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    httpx.post(f"{moto_url}/moto-api/reset", timeout=30).raise_for_status()
    return clients_for(moto_url)


@pytest.fixture
def seeded(rendered: dict[str, RenderedStack], aws: dict[str, Any]) -> Seeded:
    return seed(rendered["staging"], aws["ec2"], aws["elbv2"], aws["ecs"], aws["cloudwatch"])


def groups(seeded: Seeded) -> dict[Color, str]:
    return {BLUE: seeded.target_groups["web-blue-tg"], GREEN: seeded.target_groups["web-green-tg"]}


def raw_weights(aws: dict[str, Any], listener: str) -> list[int]:
    action = aws["elbv2"].describe_listeners(ListenerArns=[listener])["Listeners"][0][
        "DefaultActions"
    ][0]
    return [g["Weight"] for g in action["ForwardConfig"]["TargetGroups"]]


def test_weights_are_set_on_the_999_scale_and_read_back(
    aws: dict[str, Any], seeded: Seeded
) -> None:
    router = ElbRouter(aws["elbv2"], seeded.listeners["web-production"], groups(seeded))
    assert router.weights() == {BLUE: 100, GREEN: 0}  # staging web is live on blue
    router.set_weights({BLUE: 90, GREEN: 10})
    assert raw_weights(aws, seeded.listeners["web-production"]) == [899, 100]
    assert router.verify({BLUE: 90, GREEN: 10})
    assert not router.verify({BLUE: 50, GREEN: 50})
    test = ElbTestRouter(aws["elbv2"], seeded.listeners["web-test"], groups(seeded))
    assert test.weights() == {BLUE: 0, GREEN: 100}  # the idle color
    test.set_weights({BLUE: 100, GREEN: 0})
    assert test.verify({BLUE: 100, GREEN: 0})


def world(aws: dict[str, Any], seeded: Seeded, tmp: Path, on_bake: Any = None) -> Executor:
    tgs = groups(seeded)
    alarms = {
        color: [
            f"shipyard-staging-web-{color.value}-{kind}"
            for kind in ("5xx", "unhealthy-hosts", "p99-latency")
        ]
        for color in Color
    }
    health = AwsHealth(
        aws["elbv2"],
        aws["cloudwatch"],
        tgs,
        alarms,
        target_health=lambda tg: [("10.0.0.1", "healthy")],
    )

    def smoke(version: str) -> SmokeReport:
        return SmokeReport(
            "https://alb:9000",
            version,
            [CheckResult("ready", "https://alb:9000/healthz", True, 1, 200, 3.0)],
        )

    target = Target(
        router=ElbRouter(aws["elbv2"], seeded.listeners["web-production"], tgs),
        test_router=ElbTestRouter(aws["elbv2"], seeded.listeners["web-test"], tgs),
        fleet=FakeFleet(running={BLUE: "v1", GREEN: "v1"}),
        health=health,
        smoke=smoke,
        mark_active=lambda color, versions: None,
    )
    policy = Deploy.model_validate(
        {"trafficSteps": [10, 50, 100], "bakeSeconds": 0, "analysis": {"minRequests": 0}}
    )
    plan = build_plan("staging", Release("web", "v2"), policy, BLUE, "v1")
    return Executor(
        plan, target, SqliteLedger(tmp / "ledger.db"), sleep=on_bake or (lambda seconds: None)
    )


def test_a_full_deploy_moves_and_verifies_the_weights_step_by_step(
    aws: dict[str, Any], seeded: Seeded, tmp_path: Path
) -> None:
    executor = world(aws, seeded, tmp_path)
    outcome = executor.run()
    assert outcome.status == "succeeded", outcome.message
    production = [
        (e.data["blue"], e.data["green"])
        for e in executor.ledger.events()
        if e.kind == "weights-set" and e.data["router"] == "production"
    ]
    assert production == [(90, 10), (50, 50), (0, 100)]
    assert raw_weights(aws, seeded.listeners["web-production"]) == [0, 999]
    # The test listener went to the new color for smoke, then follows the idle (old) one.
    test = [
        e.data
        for e in executor.ledger.events()
        if e.kind == "weights-set" and e.data["router"] == "test"
    ]
    assert [(t["blue"], t["green"]) for t in test] == [(0, 100), (100, 0)]


def test_an_alarm_during_a_bake_rolls_back_to_100_percent_stable(
    aws: dict[str, Any], seeded: Seeded, tmp_path: Path
) -> None:
    def alarm_fires(seconds: float) -> None:
        aws["cloudwatch"].set_alarm_state(
            AlarmName="shipyard-staging-web-green-5xx", StateValue="ALARM", StateReason="5xx burst"
        )

    executor = world(aws, seeded, tmp_path, on_bake=alarm_fires)
    outcome = executor.run()
    assert outcome.status == "rolled-back"
    assert outcome.message == "analysis: alarm in ALARM: shipyard-staging-web-green-5xx"
    router = ElbRouter(aws["elbv2"], seeded.listeners["web-production"], groups(seeded))
    assert router.weights() == {BLUE: 100, GREEN: 0}
    assert raw_weights(aws, seeded.listeners["web-production"]) == [999, 0]


def test_the_ecs_fleet_rolls_a_color_onto_a_new_version_and_scales_it_down(
    aws: dict[str, Any], seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rollout.platforms.aws.fleet import EcsFleet

    monkeypatch.setenv("MOTO_ECS_SERVICE_RUNNING", "true")  # moto: deployments complete
    healthy = {BLUE: True, GREEN: True}
    fleet = EcsFleet(
        aws["ecs"],
        seeded.cluster,
        {BLUE: "web-blue", GREEN: "web-green"},
        desired_count=2,
        targets_healthy=lambda color: healthy[color],
        sleep=lambda seconds: None,
    )
    assert fleet.versions() == {BLUE: "v1", GREEN: None}  # staging: blue live, green idle (0)
    fleet.start(GREEN, "v2")
    service = aws["ecs"].describe_services(cluster=seeded.cluster, services=["web-green"])[
        "services"
    ][0]
    task = aws["ecs"].describe_task_definition(taskDefinition=service["taskDefinition"])[
        "taskDefinition"
    ]
    assert task["containerDefinitions"][0]["image"].endswith("/shipyard-web:v2")
    assert task["family"] == "staging-web-green" and task["revision"] == 2
    assert service["desiredCount"] == 2
    assert fleet.versions() == {BLUE: "v1", GREEN: "v2"}
    healthy[GREEN] = False
    assert fleet.await_ready(GREEN, timeout=0.01) is False  # targets not healthy yet
    healthy[GREEN] = True
    assert fleet.await_ready(GREEN, timeout=5)
    fleet.drain_and_stop(BLUE, timeout=5)
    assert fleet.versions() == {BLUE: None, GREEN: "v2"}


def test_a_new_revision_is_the_programs_revision_at_the_new_version(
    aws: dict[str, Any],
    seeded: Seeded,
    repo_sources: StackSources,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The revision a rollout registers is what `pulumi up` would make for the color at that
    version: image tag, SHIPYARD_VERSION, SHIPYARD_COLOR and tags all at v2, the rest as the
    program's revision had it. An app reporting its version from its environment passes smoke."""
    from components.blue_green_service import container_definitions
    from rollout.platforms.aws.fleet import EcsFleet

    monkeypatch.setenv("MOTO_ECS_SERVICE_RUNNING", "true")
    ecs = aws["ecs"]
    fleet = EcsFleet(ecs, seeded.cluster, {BLUE: "web-blue", GREEN: "web-green"},
                     desired_count=2, container="web")  # fmt: skip
    before = ecs.describe_task_definition(
        taskDefinition=seeded.task_definitions["web-green-task"], include=["TAGS"]
    )
    fleet.start(GREEN, "v2")
    current = ecs.describe_services(cluster=seeded.cluster, services=["web-green"])["services"][0]
    after = ecs.describe_task_definition(taskDefinition=current["taskDefinition"], include=["TAGS"])
    old, new = before["taskDefinition"], after["taskDefinition"]
    assert new["revision"] == old["revision"] + 1

    [container] = new["containerDefinitions"]
    assert container["image"].endswith("/shipyard-web:v2")
    environment = {e["name"]: e["value"] for e in container["environment"]}
    assert (environment["SHIPYARD_VERSION"], environment["SHIPYARD_COLOR"]) == ("v2", "green")
    # Everything the program writes into the container, as it would write it for green at v2.
    config = load_stack(repo_sources, "staging").config
    web = config.service("web")
    at_v2 = web.model_copy(update={"versions": web.versions.model_copy(update={"green": "v2"})})
    [program] = json.loads(
        container_definitions(at_v2, GREEN, config.region, "/shipyard/staging/web")
    )
    assert {key: container[key] for key in program} == program

    tags = {t["key"]: t["value"] for t in after["tags"]}
    old_tags = {t["key"]: t["value"] for t in before["tags"]}
    assert old_tags["shipyard:version"] == "v1"
    assert tags == {**old_tags, "shipyard:version": "v2"}  # the other tags survive
    recorded = {"taskDefinitionArn", "revision", "containerDefinitions", "registeredAt",
                "registeredBy"}  # fmt: skip
    assert {k: v for k, v in new.items() if k not in recorded} == {
        k: v for k, v in old.items() if k not in recorded
    }
    assert old["executionRoleArn"].endswith(":role/shipyard/staging/web-execution-role")  # the seed
    assert fleet.versions()[GREEN] == "v2"


def test_a_new_revision_keeps_what_the_program_does_not_set_yet(
    aws: dict[str, Any], seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fields added to the task definition later (a task role, volumes, ARM, more storage) are
    carried into the rollout's revision without a change to the fleet."""
    from rollout.platforms.aws.fleet import EcsFleet

    monkeypatch.setenv("MOTO_ECS_SERVICE_RUNNING", "true")
    ecs = aws["ecs"]
    old = ecs.describe_task_definition(taskDefinition=seeded.task_definitions["web-green-task"])
    extra = {
        "taskRoleArn": "arn:aws:iam::123456789012:role/web-task-role",
        "volumes": [{"name": "scratch", "host": {}}],
        "runtimePlatform": {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"},
        "ipcMode": "none",
    }
    task = old["taskDefinition"]
    richer = ecs.register_task_definition(
        family=task["family"],
        containerDefinitions=task["containerDefinitions"],
        cpu=task["cpu"],
        memory=task["memory"],
        networkMode=task["networkMode"],
        requiresCompatibilities=task["requiresCompatibilities"],
        tags=[{"key": "Name", "value": "web-green-task"}],
        **extra,
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster=seeded.cluster, service="web-green", taskDefinition=richer)
    fleet = EcsFleet(ecs, seeded.cluster, {BLUE: "web-blue", GREEN: "web-green"},
                     desired_count=1, container="web")  # fmt: skip
    fleet.start(GREEN, "v2")
    current = ecs.describe_services(cluster=seeded.cluster, services=["web-green"])["services"][0]
    new = ecs.describe_task_definition(taskDefinition=current["taskDefinition"])["taskDefinition"]
    assert {key: new.get(key) for key in extra} == extra
