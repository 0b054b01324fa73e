"""Whole rollouts on the AWS platform, through the CLI, against the AWS harness under live load:
what tests/e2e/test_rollout.py proves locally, with `--platform aws` (moto for the control
plane, HAProxy as the ALB's data plane, real task processes, CloudWatch fed from the traffic).

Given dev on the harness (api live on blue v1), a policy of 10/50/100% steps, 1 s bakes and
analysis over at least 20 requests; every test starts its own world (a few seconds), so
CloudWatch's per-minute counts (analysis floors its window to the minute) never carry another
test's traffic. The releases: v2 good, v3 answering 30% 5xx, v4 failing its health check.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import yaml

from aws_harness.fixture import AwsWorld
from rollout.ledger import SqliteLedger
from rollout.load import Load
from shipyard.config.load import StackSources
from shipyard.stacks import plan_stack_files, write_stack_files
from tests.drills import shipyard

POLICY: dict[str, Any] = {
    "trafficSteps": [10, 50, 100],
    "bakeSeconds": 1,
    # >= healthyThreshold x interval + timeout of CHECK (12 s): a release that never becomes
    # healthy is given up after this long
    "readyTimeoutSeconds": 15,
    "scaleDownDelaySeconds": 300,
    "analysis": {"minRequests": 20, "max5xxRate": 0.05, "onInconclusive": "fail"},
}
# The ALB's smallest health check: interval 5 s, timeout 2 s, 2 checks either way
# (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateTargetGroup.html);
# the harness runs it every local.checkIntervalMs, with these thresholds.
CHECK = {"intervalSeconds": 5, "timeoutSeconds": 2, "healthyThreshold": 2, "unhealthyThreshold": 2}
SETTLE = 0.1  # seconds: requests in flight when the weights changed


class Dev:
    """dev on the AWS harness: the project, its world and its ledger, and the CLI on both."""

    def __init__(self, project: StackSources, world: AwsWorld) -> None:
        self.project, self.world = project, world
        self.ledger = SqliteLedger(project.root / ".shipyard" / "ledger.db")

    def run(self, command: str, *args: str) -> tuple[int, dict[str, Any]]:
        """`shipyard COMMAND dev ARGS... --platform aws ... --format json`: exit code, answer."""
        return self.cli(command, "dev", *args)

    def smoke(self, *args: str) -> tuple[int, dict[str, Any]]:
        """`shipyard smoke --env dev --service api ARGS... --platform aws ...`."""
        return self.cli("smoke", "--env", "dev", "--service", "api", *args)

    def cli(self, *args: str) -> tuple[int, dict[str, Any]]:
        done = shipyard(
            self.project,
            *args,
            *self.world.platform_args,
            "--format",
            "json",
            env=self.world.environ(),
        )
        answer = json.loads(done.stdout) if done.stdout.strip() else {"stderr": done.stderr}
        return done.returncode, answer

    def blue_api_task_definition(self) -> str:
        out = self.world.outputs
        found = self.world.client("ecs").describe_services(
            cluster=out["clusterName"], services=[out["services"]["api"]["ecsServiceNames"]["blue"]]
        )
        return str(found["services"][0]["taskDefinition"])

    def production_weights(self) -> list[dict[str, Any]]:
        return [
            e.data
            for e in self.ledger.events("dev")
            if e.kind == "weights-set" and e.data["router"] == "production"
        ]

    def rollouts(self) -> list[dict[str, Any]]:
        done = shipyard(self.project, "status", "dev", "--format", "json")
        return list(json.loads(done.stdout)["rollouts"])


@contextmanager
def dev_on_aws(
    project: StackSources,
    policy: dict[str, Any] = POLICY,
    alarms: dict[str, Any] | None = None,
    api: dict[str, Any] | None = None,
) -> Iterator[Dev]:
    """dev with `policy`, `alarms` and `api`'s fields (stacks/dev.yaml) on a new harness."""
    overlay = project.overlay("dev")
    doc: dict[str, Any] = yaml.safe_load(overlay.read_text())
    doc["deploy"] = policy
    if alarms:
        doc["alarms"] = alarms
    for service in doc["services"]:
        service["healthCheck"] = CHECK
        service["environment"] = {
            **service.get("environment", {}),
            "APP_ERROR_RATE": "0.3@v3",
            "APP_FAIL_HEALTH": "1@v4",
        }
        if service["name"] == "api":
            service.update(api or {})
    overlay.write_text(yaml.safe_dump(doc))
    write_stack_files(project, plan_stack_files(project))
    with AwsWorld.start(project.root) as world:  # seeded after rendering: moto gets these TDs
        yield Dev(project, world)


@pytest.fixture
def dev(project: StackSources) -> Iterator[Dev]:
    with dev_on_aws(project) as world:
        yield world


def api_load(dev: Dev, threads: int = 2) -> Load:
    return Load(f"{dev.world.url('api')}/version", threads=threads, max_seconds=120)


def test_deploy_and_instant_rollback_under_load_drop_nothing(dev: Dev) -> None:
    with api_load(dev) as load:
        load.wait_for(200)
        code, deployed = dev.run("deploy", "--service", "api", "--version", "v2")
        assert (code, deployed["status"]) == (0, "succeeded"), deployed
        live_from = time.monotonic()
        load.wait_for(len(load.samples) + 200)
        rolling = time.monotonic()
        warm = dev.blue_api_task_definition()
        code, back = dev.run("rollback", "--service", "api")
        assert (code, back["status"]) == (0, "succeeded"), back
        rolled = time.monotonic()
        assert dev.blue_api_task_definition() == warm  # instant: traffic moved, nothing redeployed
        load.wait_for(len(load.samples) + 300)
    print(f"\n{len(load.samples)} requests, {len(load.failed)} failed, {load.rate:.0f}/s")
    assert load.failed == []
    assert {s.version for s in load.samples} == {"v1", "v2"}
    live = {s.version for s in load.samples if live_from + SETTLE < s.at < rolling}
    restored = {s.version for s in load.samples if s.at > rolled + SETTLE}
    assert (live, restored) == ({"v2"}, {"v1"})
    assert dev.world.version("api") == "v1"


def test_a_release_answering_5xx_is_rolled_back_by_analysis(dev: Dev) -> None:
    with api_load(dev) as load:
        load.wait_for(200)
        code, outcome = dev.run("deploy", "--service", "api", "--version", "v3")
        load.wait_for(len(load.samples) + 200)
    print(f"\n{len(load.samples)} requests, {len(load.failed)} failed: {outcome['message']}")
    assert (code, outcome["status"]) == (1, "rolled-back"), outcome
    assert outcome["message"].startswith("analysis: 5xx rate"), outcome["message"]
    assert dev.rollouts()[-1]["state"] == "rolled-back"
    assert load.failed, "the faulty release answered no requests at all"
    assert {s.version for s in load.failed} == {"v3"}
    assert not any(s.status is None for s in load.samples)
    assert load.samples[-1].version == "v1"
    assert dev.world.version("api") == "v1"


@contextmanager
def watching(look: Callable[[], set[str]]) -> Iterator[set[str]]:
    """Everything `look` answers, polled from a thread while the block runs."""
    seen: set[str] = set()
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            seen.update(look())
            stop.wait(0.1)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield seen
    finally:
        stop.set()
        watcher.join(timeout=10)


def test_a_release_answering_5xx_is_rolled_back_by_its_alarm(project: StackSources) -> None:
    lenient = {**POLICY, "analysis": {**POLICY["analysis"], "max5xxRate": 1.0}}
    tight = {"http5xxCount": 1, "evaluationPeriods": 1, "periodSeconds": 60}
    with dev_on_aws(project, lenient, tight) as dev:
        names = list(dev.world.outputs["services"]["api"]["alarmNames"]["green"].values())
        cloudwatch = dev.world.client("cloudwatch")

        def in_alarm() -> set[str]:
            found = cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"]
            return {a["AlarmName"] for a in found if a["StateValue"] == "ALARM"}

        with api_load(dev) as load:
            load.wait_for(200)
            assert in_alarm() == set()
            # moto keeps no alarm history (DescribeAlarmHistory answers 500): watch the states
            with watching(in_alarm) as fired:
                code, outcome = dev.run("deploy", "--service", "api", "--version", "v3")
            load.wait_for(len(load.samples) + 200)
        served = dev.world.version("api")
    print(f"\n{len(load.samples)} requests, {len(load.failed)} failed: {outcome['message']}")
    assert (code, outcome["status"]) == (1, "rolled-back"), outcome
    named = {n for n in names if n in outcome["message"]}
    assert outcome["message"].startswith("analysis: alarm in ALARM: ") and named, outcome
    assert named <= fired == {"shipyard-dev-api-green-5xx"}, (named, fired)
    assert dev.rollouts()[-1]["state"] == "rolled-back"
    assert {s.version for s in load.failed} == {"v3"}
    assert served == "v1"


def target_states(dev: Dev, color: str) -> Callable[[], set[str]]:
    elbv2 = dev.world.client("elbv2")
    group = dev.world.outputs["services"]["api"]["targetGroupArns"][color]

    def states() -> set[str]:
        found = elbv2.describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]
        return {d["TargetHealth"]["State"] for d in found}

    return states


def test_a_release_failing_its_health_check_never_takes_production_traffic(dev: Dev) -> None:
    with api_load(dev, threads=1) as load:
        load.wait_for(50)
        with watching(target_states(dev, "green")) as seen:
            code, outcome = dev.run("deploy", "--service", "api", "--version", "v4")
    print(f"\n{len(load.samples)} requests, {len(load.failed)} failed: {outcome['message']}")
    assert code == 1, outcome
    assert "health: green never passed its health check" in outcome["message"], outcome
    assert "unhealthy" in seen, seen
    assert {s.version for s in load.samples} == {"v1"}
    assert load.failed == []
    assert not [w for w in dev.production_weights() if w.get("green", 0) > 0]


def test_the_idle_colors_smoke_reads_the_version_its_task_reports(dev: Dev) -> None:
    with api_load(dev, threads=1) as load:  # analysis needs requests
        load.wait_for(50)
        code, deployed = dev.run("deploy", "--service", "api", "--version", "v2")
    assert (code, deployed["status"]) == (0, "succeeded"), deployed
    # green took production with v2; blue, idle and still warm, is behind the test listener
    assert (dev.world.version("api"), dev.world.version("api", "test")) == ("v2", "v1")
    code, report = dev.smoke("--idle", "--expect-version", "v1")
    assert code == 0 and report["passed"], report
    assert report["url"] == dev.world.test_url("api")
    # the negative: a task reporting another version than the one expected fails the smoke
    code, report = dev.smoke("--idle", "--expect-version", "v2")
    assert code == 1 and not report["passed"], report
    code, report = dev.smoke("--expect-version", "v2")
    assert code == 0 and report["passed"], report


def test_a_task_reporting_another_version_fails_the_smoke_and_takes_no_traffic(
    project: StackSources,
) -> None:
    # the harness runs `local.command`: here every api task says it is v1, whatever its image
    stuck = {
        "local": {"command": ["{python}", "{project}/examples/app/server.py", "--version", "v1"]}
    }
    with dev_on_aws(project, api=stuck) as dev:
        with api_load(dev, threads=1) as load:
            load.wait_for(50)
            code, outcome = dev.run("deploy", "--service", "api", "--version", "v2")
        served = dev.world.version("api")
    print(f"\n{len(load.samples)} requests, {len(load.failed)} failed: {outcome['message']}")
    assert code == 1, outcome
    assert outcome["message"].startswith("smoke"), outcome
    assert "version" in outcome["message"], outcome
    assert not [w for w in dev.production_weights() if w.get("green", 0) > 0]
    assert ({s.color for s in load.samples}, served) == ({"blue"}, "v1")
    assert load.failed == []
