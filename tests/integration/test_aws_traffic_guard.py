"""After a `pulumi up` from an earlier commit: traffic on a color with no running tasks is moved
to one that runs tasks, against moto server on 127.0.0.1 (staging: web live on blue)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from aws_harness.seed import Seeded, clients_for, seed, stack_outputs
from parity.render import RenderedStack
from rollout.platforms.aws.outputs import StackOutputs
from rollout.platforms.aws.router import ElbRouter
from rollout.platforms.aws.traffic_guard import AwsTrafficGuard
from shipyard.aws import Aws
from shipyard.config.load import StackSources, load_stack
from shipyard.config.model import Color, Service
from shipyard.errors import CheckFailed

BLUE, GREEN = Color.BLUE, Color.GREEN


@pytest.fixture
def world(
    moto_url: str, rendered: dict[str, RenderedStack], repo_sources: StackSources
) -> tuple[AwsTrafficGuard, Any, Seeded, Service, ElbRouter]:
    httpx.post(f"{moto_url}/moto-api/reset", timeout=30).raise_for_status()
    raw = clients_for(moto_url)
    stack = rendered["staging"]
    seeded = seed(stack, raw["ec2"], raw["elbv2"], raw["ecs"], raw["cloudwatch"])
    outputs = StackOutputs("staging", stack_outputs(stack, seeded, {}), "test outputs")
    aws = Aws("us-east-1", moto_url, "staging")
    guard = AwsTrafficGuard(aws.client("elbv2"), aws.client("ecs"), outputs)
    web = next(s for s in load_stack(repo_sources, "staging").config.services if s.name == "web")
    out = outputs.service("web")
    router = ElbRouter(raw["elbv2"], out.production_listener, out.target_groups)
    return guard, raw["ecs"], seeded, web, router


def run_tasks(ecs: Any, seeded: Seeded, service: str, count: int) -> None:
    ecs.update_service(cluster=seeded.cluster, service=service, desiredCount=count)  # moto: runs


def test_traffic_sent_to_a_color_without_tasks_goes_back_to_the_warm_one(
    world: tuple[AwsTrafficGuard, Any, Seeded, Service, ElbRouter], calls_within_policy: None
) -> None:
    guard, ecs, seeded, web, router = world
    run_tasks(ecs, seeded, "web-blue", 2)
    router.set_weights({BLUE: 0, GREEN: 100})  # a listener the earlier program made anew
    [line] = guard.settle([web])
    assert router.weights() == {BLUE: 100, GREEN: 0}
    assert line == (
        "web: green 100% of production traffic went to colors without running tasks after "
        "`pulumi up`: all of it moved to blue (2 tasks)"
    )


def test_traffic_on_colors_with_tasks_is_left_alone(
    world: tuple[AwsTrafficGuard, Any, Seeded, Service, ElbRouter],
) -> None:
    guard, ecs, seeded, web, router = world
    run_tasks(ecs, seeded, "web-blue", 2)
    run_tasks(ecs, seeded, "web-green", 2)
    router.set_weights({BLUE: 30, GREEN: 70})
    assert guard.settle([web]) == []
    assert router.weights() == {BLUE: 30, GREEN: 70}


def test_with_no_color_running_tasks_it_fails_and_names_the_runbook(
    world: tuple[AwsTrafficGuard, Any, Seeded, Service, ElbRouter],
) -> None:
    guard, _, _, web, router = world  # seeded services run no tasks in moto until updated
    with pytest.raises(CheckFailed, match=r"web: the production listener forwards to blue and no"):
        guard.settle([web])
    assert router.weights() == {BLUE: 100, GREEN: 0}  # nothing better to do: left as it was
