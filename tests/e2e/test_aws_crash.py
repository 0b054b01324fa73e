"""Crash safety on the AWS platform (tests/e2e/test_crash.py against the AWS harness): SIGKILL
`shipyard deploy --platform aws` at each step in turn, under load on the production listener.
`status` shows the interrupted rollout, and `deploy --resume` (even steps) or `rollback` (odd
steps) brings it to a terminal state. Killed after a step acted and before `step-finished`
(prepare routed the test listener to the new color; a shift moved production traffic), both
recoveries end consistent: traffic on a healthy color, as the ledger says, no orphan task."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from aws_harness.fixture import AwsWorld
from rollout.ledger import SqliteLedger
from rollout.load import Load
from rollout.platforms.aws.router import ElbRouter
from rollout.platforms.local.owned import command_of, strays
from rollout.platforms.local.runtime_api import RuntimeApi
from shipyard.config.load import StackSources
from shipyard.config.model import Color
from shipyard.stacks import plan_stack_files, write_stack_files
from tests.drills import (
    assert_killed_after_acting,
    deploy_held_after_effect,
    deploy_held_at_step,
    recover_after_kill,
    shipyard,
)

# The executor's plan, as on the local platform: kinds by index, read back from the ledger.
# The every-step drill shifts once (every kind of step, 7 kills); the after-effect drill twice
# (50/50 is a split both colors serve; its first shift has the same index).
KINDS = ["prepare", "await-healthy", "smoke", "shift", "bake", "analyse", "finalise"]
PREPARE, FIRST_SHIFT = KINDS.index("prepare"), KINDS.index("shift")
MAX_REQUESTS = 400_000
SETTLE_SECONDS = 90  # old tasks drain, then stop (aws_harness.tasks)

Aws = tuple[StackSources, AwsWorld]


@pytest.fixture
def aws(project: StackSources) -> Iterator[Aws]:
    with on_harness(project, [50, 100]) as world:
        yield project, world


@pytest.fixture
def aws_one_shift(project: StackSources) -> Iterator[Aws]:
    with on_harness(project, [100]) as world:
        yield project, world


@contextmanager
def on_harness(project: StackSources, steps: list[int]) -> Iterator[AwsWorld]:
    overlay = project.overlay("dev")
    doc: dict[str, Any] = yaml.safe_load(overlay.read_text())
    doc["deploy"] = {
        "trafficSteps": steps,
        "bakeSeconds": 1,
        "readyTimeoutSeconds": 40,  # >= the health check's healthyThreshold * interval + timeout
        "scaleDownDelaySeconds": 300,
        "analysis": {"minRequests": 10, "onInconclusive": "fail"},
    }
    overlay.write_text(yaml.safe_dump(doc))
    write_stack_files(project, plan_stack_files(project))
    with AwsWorld.start(project.root) as world:
        yield world


def on_aws(aws: Aws, *args: str) -> subprocess.CompletedProcess[str]:
    project, world = aws
    return shipyard(project, *args, *world.platform_args, env=world.environ())


def latest(project: StackSources) -> dict[str, Any]:
    status = json.loads(shipyard(project, "status", "dev", "--format", "json").stdout)
    rollout: dict[str, Any] = status["rollouts"][-1]
    return rollout


def router(world: AwsWorld, listener: str = "production") -> ElbRouter:
    api = world.outputs["services"]["api"]
    groups = {Color(c): arn for c, arn in api["targetGroupArns"].items()}
    return ElbRouter(world.client("elbv2"), api["listenerArns"][listener], groups)


def serving_weights(world: AwsWorld, backend: str) -> dict[Color, int]:
    """HAProxy's weight per color over the backend's servers that are UP, from its runtime
    API: what the listener really serves by."""
    rows = RuntimeApi(Path(world.facts["haproxy_socket"])).stats()
    weights = dict.fromkeys(Color, 0)
    for row in rows:
        color = next((c for c in Color if row["svname"].startswith(c.value)), None)
        if row["pxname"] == backend and color and row["status"].startswith("UP"):
            weights[color] += int(row["weight"])
    return weights


def await_serving(world: AwsWorld, backend: str, color: Color) -> None:
    """The harness runs each listener's health checks apart: the test listener's server may
    come UP a check after DescribeTargetHealth said healthy (the production one's)."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while not serving_weights(world, backend)[color]:
        assert time.monotonic() < deadline, f"no {color.value} server UP in {backend}"
        time.sleep(0.1)


def await_healthy(world: AwsWorld, color: Color) -> None:
    """Every target of the color's group healthy, polled through DescribeTargetHealth (a
    request to a listener with no healthy target is an ELB 5xx, which the analysis counts)."""
    elbv2 = world.client("elbv2")
    group = world.outputs["services"]["api"]["targetGroupArns"][color.value]
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        health = elbv2.describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]
        if health and all(t["TargetHealth"]["State"] == "healthy" for t in health):
            return
        assert time.monotonic() < deadline, f"{color.value}'s targets never passed: {health}"
        time.sleep(0.2)


def live_color(world: AwsWorld) -> Color:
    weights = router(world).weights()
    return max(weights, key=lambda color: weights[color])


def ledger_says(ledger: SqliteLedger) -> tuple[Color, str]:
    """The color and version production should be on after the last rollout's outcome."""
    events = ledger.events("dev")
    release = [e for e in events if e.kind == "release"][-1]
    outcome = [e for e in events if e.kind == "outcome" and e.rollout == release.rollout][-1]
    plan = release.data
    if outcome.data["status"] == "succeeded":
        return Color(plan["new"]), str(plan["version"])
    return Color(plan["stable"]), str(plan["previous_version"])


def app_processes(world: AwsWorld) -> set[int]:
    """Every task process carrying the harness's marker (its HAProxy aside)."""
    return {pid for pid in strays(world.state) if "haproxy" not in command_of(pid).split()[0]}


def tasks_settled(world: AwsWorld) -> tuple[bool, dict[str, Any]]:
    """Per color of every service: ECS's runningCount == desiredCount, as many registered
    targets, all healthy; and the marked task processes are exactly as many as desired."""
    ecs, elbv2 = world.client("ecs"), world.client("elbv2")
    outputs = world.outputs
    colors: dict[str, tuple[int, int, list[str]]] = {}
    for name, service in outputs["services"].items():
        for color in Color:
            (found,) = ecs.describe_services(
                cluster=outputs["clusterName"], services=[service["ecsServiceNames"][color.value]]
            )["services"]
            health = elbv2.describe_target_health(
                TargetGroupArn=service["targetGroupArns"][color.value]
            )["TargetHealthDescriptions"]
            states = sorted(t["TargetHealth"]["State"] for t in health)
            colors[f"{name}-{color.value}"] = (found["desiredCount"], found["runningCount"], states)
    processes = len(app_processes(world))
    settled = processes == sum(desired for desired, _, _ in colors.values()) and all(
        running == desired and states == ["healthy"] * desired
        for desired, running, states in colors.values()
    )
    return settled, {"processes": processes, **colors}


def await_settled(world: AwsWorld) -> None:
    deadline = time.monotonic() + SETTLE_SECONDS
    settled, seen = tasks_settled(world)
    while not settled:
        assert time.monotonic() < deadline, f"orphan or missing tasks: {seen}"
        time.sleep(0.2)
        settled, seen = tasks_settled(world)


def assert_consistent(world: AwsWorld, ledger: SqliteLedger) -> None:
    """Production traffic all on the color the ledger says, as the ledger last set it; that
    color's targets healthy and answering the ledger's version; no task the ECS services do
    not want."""
    live, version = ledger_says(ledger)
    weights = router(world).weights()
    assert weights == {live: 100, live.other: 0}
    recorded = [
        e.data
        for e in ledger.events("dev")
        if e.kind == "weights-set" and e.data["router"] == "production"
    ][-1]
    assert {color: recorded[color.value] for color in Color} == weights
    await_settled(world)
    assert world.version("api") == version


def test_killed_at_every_step_the_rollout_is_recoverable_and_traffic_stays_healthy(
    aws_one_shift: Aws,
) -> None:
    aws = aws_one_shift
    project, world = aws
    ledger = SqliteLedger(project.root / ".shipyard" / "ledger.db")
    # One thread answers 200 to 800 a second here: Load's default cap (50,000) would stop
    # it mid-drill, and an analysis over no traffic is inconclusive.
    url = f"{world.url('api')}/version"
    with Load(url, threads=1, max_requests=MAX_REQUESTS, max_seconds=600) as load:
        for index in range(len(KINDS)):
            version = f"v{10 + index}"
            args = ("--version", version, "--service", "api", *world.platform_args)
            with deploy_held_at_step(project.root, ledger, index, *args, env=world.environ()):
                pass
            plan = [e for e in ledger.events("dev") if e.kind == "release"][-1].data
            assert [step["kind"] for step in plan["steps"]] == KINDS
            interrupted = latest(project)
            assert interrupted["state"] == "interrupted", (index, interrupted)
            assert interrupted["version"] == version
            assert interrupted["last_step"] == index
            recover_after_kill(
                lambda *args: on_aws(aws, *args), lambda: latest(project)["state"], index
            )
            assert world.version("api") == ledger_says(ledger)[1]
    assert load.failed == [], load.failed[:5]
    assert len(load.samples) > 500
    assert ledger.verify() == []
    assert_consistent(world, ledger)


@pytest.mark.parametrize("recovery", ["resume", "rollback"])
@pytest.mark.parametrize("index", [PREPARE, FIRST_SHIFT], ids=["after-prepare", "after-shift"])
def test_killed_after_a_step_acted_and_before_it_finished_both_recoveries_are_consistent(
    aws: Aws, index: int, recovery: str
) -> None:
    project, world = aws
    ledger = SqliteLedger(project.root / ".shipyard" / "ledger.db")
    stable = live_color(world)
    with Load(f"{world.url('api')}/version", threads=1, max_seconds=180) as load:
        args = ("--version", "v20", "--service", "api", *world.platform_args)
        with deploy_held_after_effect(project.root, ledger, index, *args, env=world.environ()):
            # The step's effect is real before the kill: the test listener forwards to the new
            # color, whose tasks come up with v20 (prepare), or production traffic is split
            # 50 / 50 (the first shift).
            if index == PREPARE:
                assert router(world, "test").weights() == {stable: 0, stable.other: 100}
                await_healthy(world, stable.other)
                await_serving(world, "api_test", stable.other)
                assert world.version("api", "test") == "v20"
            else:
                assert router(world).weights() == {stable: 50, stable.other: 50}
                # HAProxy, the data plane, weighs both colors' serving targets alike (served
                # answers would be a statistical proof only).
                serving = serving_weights(world, "api")
                assert serving[stable] == serving[stable.other] > 0, serving
        router_used = "test" if index == PREPARE else "production"
        assert_killed_after_acting(ledger, latest(project), index, router_used)
        if recovery == "resume":
            done = on_aws(aws, "deploy", "dev", "--resume")
            expected = ("succeeded", stable.other)
        else:
            done = on_aws(aws, "rollback", "dev")
            expected = ("rolled-back", stable)
        assert done.returncode == 0, done.stderr
        assert latest(project)["state"] == expected[0]
        assert ledger_says(ledger)[0] == expected[1]
        assert_consistent(world, ledger)
    assert load.failed == [], load.failed[:5]
    assert ledger.verify() == []
