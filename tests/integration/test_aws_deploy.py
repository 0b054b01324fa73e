"""`shipyard deploy|rollback --platform aws` end to end against moto server on 127.0.0.1.

The stack is "applied" by the seeder (a test's `pulumi up`); its outputs go to a file as
`pulumi stack output --json` would write them. moto plays ELBv2, ECS and CloudWatch; the ALB's
test listener is played by the sample service on loopback, so smoke tests run for real.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from aws_harness.seed import Seeded, apply_stack, clients_for, stack_outputs
from parity.drift import run_drift
from parity.live import AwsClients
from parity.render import render_stack
from rollout.ledger import SqliteLedger
from shipyard.config.load import StackSources, load_stack
from shipyard.stacks import plan_stack_files, write_stack_files
from tests.conftest import CliResult
from tests.drills import deploy_held_at_step
from tests.integration.conftest import Start

pytestmark = pytest.mark.usefixtures("calls_within_policy")

FAST = """deploy:
  trafficSteps: [10, 50, 100]
  bakeSeconds: 0
  scaleDownDelaySeconds: {delay}
  analysis:
    minRequests: 0
"""


@dataclass
class World:
    project: StackSources
    aws: dict[str, Any]
    seeded: Seeded
    args: list[str]  # --platform aws and where its stack and endpoint are
    ledger: SqliteLedger

    def raw_weights(self, which: str = "production") -> dict[str, int]:
        listener = self.seeded.listeners[f"web-{which}"]
        action = self.aws["elbv2"].describe_listeners(ListenerArns=[listener])["Listeners"][0][
            "DefaultActions"
        ][0]
        color_of = {arn: name.split("-")[1] for name, arn in self.seeded.target_groups.items()}
        if "ForwardConfig" in action:
            groups = action["ForwardConfig"]["TargetGroups"]
            return {color_of[g["TargetGroupArn"]]: g["Weight"] for g in groups}
        return {color_of[action["TargetGroupArn"]]: 1}

    def ecs_service(self, name: str) -> dict[str, Any]:
        found = self.aws["ecs"].describe_services(cluster=self.seeded.cluster, services=[name])
        service: dict[str, Any] = found["services"][0]
        return service

    def image(self, name: str) -> str:
        return str(self.task(name)["taskDefinition"]["containerDefinitions"][0]["image"])

    def task(self, name: str) -> dict[str, Any]:
        """The service's task definition, with its tags."""
        task = self.ecs_service(name)["taskDefinition"]
        found: dict[str, Any] = self.aws["ecs"].describe_task_definition(
            taskDefinition=task, include=["TAGS"]
        )
        return found

    def weights_set(self, router: str = "production") -> list[tuple[int, int]]:
        return [
            (e.data["blue"], e.data["green"])
            for e in self.ledger.events("dev")
            if e.kind == "weights-set" and e.data["router"] == router
        ]


def make_world(moto_url: str, project: StackSources, sample: Start, tmp: Path, delay: int) -> World:
    httpx.post(f"{moto_url}/moto-api/reset", timeout=30).raise_for_status()
    overlay = project.overlay("dev")
    text = overlay.read_text(encoding="utf-8")
    overlay.write_text(text[: text.index("deploy:")] + FAST.format(delay=delay), encoding="utf-8")
    write_stack_files(project, plan_stack_files(project))
    stack = render_stack(project, "dev")
    aws = clients_for(moto_url)
    seeded = apply_stack(stack, aws)
    outputs = tmp / "outputs.json"
    outputs.write_text(json.dumps(stack_outputs(stack, seeded, {"web": sample("v3")})))
    ledger = tmp / "ledger.db"
    args = [
        "--platform",
        "aws",
        "--stack-outputs",
        str(outputs),
        "--endpoint-url",
        moto_url,
        "--ledger",
        str(ledger),
    ]
    return World(project, aws, seeded, args, SqliteLedger(ledger))


@pytest.fixture
def world_factory(
    moto_url: str,
    project: StackSources,
    sample: Start,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[[int], World]:
    monkeypatch.setenv("MOTO_ECS_SERVICE_RUNNING", "true")  # moto: deployments complete
    return lambda delay: make_world(moto_url, project, sample, tmp_path, delay)


def deploy(cli: Callable[..., CliResult], world: World, version: str = "v3") -> CliResult:
    return cli(
        "deploy", "dev", "--service", "web", "--version", version, *world.args,
        project=world.project,
    )  # fmt: skip


def test_a_deploy_moves_verified_weights_and_writes_the_live_colors_back(
    world_factory: Callable[[int], World], cli: Callable[..., CliResult], moto_url: str
) -> None:
    world = world_factory(0)
    # dev web is live on green (v2); v3 goes to blue.
    assert world.raw_weights() == {"blue": 0, "green": 999}
    result = deploy(cli, world)
    assert result.code == 0, result
    assert "succeeded: web@v3#unknown is live on blue" in result.out
    assert world.weights_set() == [(10, 90), (50, 50), (100, 0)]
    assert world.raw_weights() == {"blue": 999, "green": 0}
    # The test listener went to blue for smoke, then follows the idle color.
    assert world.weights_set("test") == [(100, 0), (0, 100)]
    assert world.raw_weights("test") == {"green": 1}
    assert world.image("web-blue").endswith("/shipyard-web:v3")
    # The revision is the program's at v3, not only a new image (shipyard.revision).
    blue = world.task("web-blue")
    environment = blue["taskDefinition"]["containerDefinitions"][0]["environment"]
    assert {"name": "SHIPYARD_VERSION", "value": "v3"} in environment
    assert {"name": "SHIPYARD_COLOR", "value": "blue"} in environment
    assert {"key": "shipyard:version", "value": "v3"} in blue["tags"]
    assert world.ecs_service("web-blue")["desiredCount"] == 1
    assert world.ecs_service("web-green")["desiredCount"] == 0  # scaleDownDelaySeconds 0

    overlay = world.project.overlay("dev").read_text(encoding="utf-8")
    assert overlay.startswith("# dev: one task per color")  # comments survive
    web = load_stack(world.project, "dev").config.service("web")
    assert (web.active_color.value, web.versions.blue, web.versions.green) == ("blue", "v3", "v2")
    assert "recorded the live color and versions in stacks/dev.yaml, Pulumi.dev.yaml" in result.err
    idle = cli("smoke", "--env", "dev", "--service", "web", "--idle", "--expect-version", "v3",
               *world.args[:-2], project=world.project)  # fmt: skip
    assert idle.code == 0, idle  # testUrl from the stack outputs (the sample app plays it)
    assert cli("stacks", "render", "--check", project=world.project).code == 0
    # What Pulumi now wants is what is live: no drift (pulumi preview: no changes).
    report = run_drift(
        render_stack(world.project, "dev"), AwsClients.connect("us-east-1", moto_url)
    )
    assert not report.drifted, [item.line() for item in report.items]


def test_an_alarm_during_the_rollout_rolls_back_to_100_percent_stable(
    world_factory: Callable[[int], World], cli: Callable[..., CliResult]
) -> None:
    world = world_factory(0)
    before = world.project.overlay("dev").read_text(encoding="utf-8")
    world.aws["cloudwatch"].set_alarm_state(
        AlarmName="shipyard-dev-web-blue-5xx", StateValue="ALARM", StateReason="5xx burst"
    )
    result = deploy(cli, world)
    assert result.code == 1
    assert "rolled-back: analysis: alarm in ALARM: shipyard-dev-web-blue-5xx" in result.out
    assert world.weights_set() == [(10, 90), (0, 100)]
    assert world.raw_weights() == {"blue": 0, "green": 999}
    assert world.ecs_service("web-blue")["desiredCount"] == 0  # the new color stopped
    assert world.project.overlay("dev").read_text(encoding="utf-8") == before  # nothing recorded
    # CI's on-failure step: the deploy already rolled itself back, so nothing more happens.
    after = cli("rollback", "dev", "--service", "web", "--if-live", "v3", *world.args,
                project=world.project)  # fmt: skip
    assert after.code == 0, after
    assert after.out.startswith("unchanged: web@v3 is not live in dev (v2 is): nothing to roll")
    assert world.raw_weights() == {"blue": 0, "green": 999}


def test_instant_rollback_flips_back_to_the_warm_color_and_records_it(
    world_factory: Callable[[int], World], cli: Callable[..., CliResult]
) -> None:
    world = world_factory(60)
    assert deploy(cli, world).code == 0
    assert world.ecs_service("web-green")["desiredCount"] == 1  # kept warm for 60 s
    back = cli("rollback", "dev", "--service", "web", "--if-live", "v3", *world.args,
               project=world.project)  # fmt: skip
    assert back.code == 0, back
    assert world.raw_weights() == {"blue": 0, "green": 999}
    web = load_stack(world.project, "dev").config.service("web")
    assert web.active_color.value == "green"
    rollouts = [e.data for e in world.ledger.events("dev") if e.kind == "release"]
    assert [(r["purpose"], r["platform"]) for r in rollouts] == [
        ("deploy", "aws"),
        ("rollback", "aws"),
    ]


def test_a_second_deploy_is_refused_while_the_first_holds_the_lock_then_undone_after_a_crash(
    world_factory: Callable[[int], World], cli: Callable[..., CliResult]
) -> None:
    world = world_factory(0)
    # Held inside step 4 (the 10% shift) once it is in the ledger.
    args = ("--service", "web", "--version", "v3", *world.args)
    with deploy_held_at_step(world.project.root, world.ledger, 3, *args):
        second = deploy(cli, world, "v4")
        assert second.code == 1
        assert "dev is locked" in second.err and "deploying web@v3" in second.err, second.err
    # The holder died mid-rollout: the lock is stale, the rollout unfinished. Undo it on AWS.
    ledger_only = world.args[-2:]
    wrong = cli("rollback", "dev", "--service", "web", *ledger_only, project=world.project)
    assert wrong.code == 2, wrong
    assert "ran on the aws platform: repeat the command with --platform aws" in wrong.err
    undone = cli("rollback", "dev", "--service", "web", "--if-live", "v3", *world.args,
                 project=world.project)  # fmt: skip
    assert undone.code == 0, undone
    assert world.raw_weights() == {"blue": 0, "green": 999}
    assert world.ecs_service("web-blue")["desiredCount"] == 0


@pytest.fixture
def denied(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Make AWS answer AccessDenied to the operations listed (a policy without them)."""
    from botocore.awsrequest import AWSResponse

    from shipyard.aws import Aws

    operations: list[str] = []
    original = Aws.client

    class Body:
        def __init__(self, data: bytes) -> None:
            self.data = data

        def stream(self, **_: Any) -> Iterator[bytes]:
            yield self.data

    def client(self: Aws, name: str, **kwargs: Any) -> Any:
        made = original(self, name, **kwargs)
        service = made.meta.service_model.service_id.hyphenize()

        def deny(request: Any, **_: Any) -> AWSResponse:
            body = json.dumps({"__type": "AccessDeniedException", "message": "not authorized"})
            headers = {"Content-Type": "application/x-amz-json-1.1"}
            return AWSResponse(request.url, 400, headers, Body(body.encode()))

        for operation in operations:
            made.meta.events.register_first(f"before-send.{service}.{operation}", deny)
        return made

    monkeypatch.setattr(Aws, "client", client)
    yield operations


def test_access_denied_rolls_back_and_names_the_missing_permission(
    world_factory: Callable[[int], World], cli: Callable[..., CliResult], denied: list[str]
) -> None:
    world = world_factory(0)
    denied.append("RegisterTaskDefinition")
    result = deploy(cli, world)
    assert result.code == 1
    assert "rolled-back: platform: access denied: this identity may not call " in result.out
    assert "ecs:RegisterTaskDefinition" in result.out
    assert world.raw_weights() == {"blue": 0, "green": 999}  # never moved


def test_a_missing_stack_output_names_what_to_run(
    world_factory: Callable[[int], World], cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    world = world_factory(0)
    outputs_file = Path(world.args[3])
    outputs = json.loads(outputs_file.read_text())
    del outputs["services"]["web"]["listenerArns"]
    outputs_file.write_text(json.dumps(outputs))
    result = deploy(cli, world)
    assert result.code == 1
    assert result.err == (
        f"shipyard: stack dev has no output services.web.listenerArns (read from "
        f"{outputs_file}): run `pulumi up -s dev`, then `pulumi stack output -s dev --json` "
        "again\n"
    )
    assert world.ledger.events("dev") == []  # nothing started


def test_a_listener_that_is_gone_names_what_to_run(
    world_factory: Callable[[int], World], cli: Callable[..., CliResult]
) -> None:
    world = world_factory(0)
    world.aws["elbv2"].delete_listener(ListenerArn=world.seeded.listeners["web-production"])
    result = deploy(cli, world)
    assert result.code == 1
    assert "ListenerNotFound" in result.err and "run `pulumi up -s dev`" in result.err, result
    assert len(result.err.splitlines()) == 1


def test_scale_down_retires_the_warm_color_only_after_its_window(
    world_factory: Callable[[int], World], cli: Callable[..., CliResult]
) -> None:
    world = world_factory(60)
    assert deploy(cli, world).code == 0
    early = cli("scale-down", "dev", "--service", "web", *world.args, project=world.project)
    assert early.code == 0, early
    assert re.match(r"web: green stays warm (5\d|60) s more \(the instant-rollback window\)",
                    early.out), early  # fmt: skip
    assert world.ecs_service("web-green")["desiredCount"] == 1
    now = cli("scale-down", "dev", "--now", "--format", "json", *world.args,
              project=world.project)  # fmt: skip
    assert now.code == 0, now
    report = {s["service"]: s for s in json.loads(now.out)["services"]}
    assert report["web"]["action"] == "scaled-down"
    assert (report["web"]["color"], report["web"]["version"]) == ("green", "v2")
    assert report["api"]["action"] == "nothing-warm"
    assert world.ecs_service("web-green")["desiredCount"] == 0  # idleDesiredCount
    assert world.raw_weights() == {"blue": 999, "green": 0}  # traffic untouched
    again = cli("scale-down", "dev", "--service", "web", *world.args, project=world.project)
    assert again.out == "web: no warm color\n"
    # With the old color gone, rollback cannot be instant: it redeploys v2, whose smoke test
    # fails here (the test listener's stand-in serves v3), so traffic stays where it is.
    back = cli("rollback", "dev", "--service", "web", *world.args, project=world.project)
    assert back.code == 1 and "smoke" in back.out, back
    assert world.raw_weights() == {"blue": 999, "green": 0}


def test_scale_down_wait_waits_out_the_window(
    world_factory: Callable[[int], World], cli: Callable[..., CliResult]
) -> None:
    world = world_factory(1)
    assert deploy(cli, world).code == 0
    waited = cli("scale-down", "dev", "--service", "web", "--wait", *world.args,
                 project=world.project)  # fmt: skip
    assert waited.out == "web: green (v2) scaled down to its idle size\n", waited
    assert world.ecs_service("web-green")["desiredCount"] == 0


def test_scale_down_keeps_a_warm_color_that_takes_traffic_again(
    world_factory: Callable[[int], World], cli: Callable[..., CliResult]
) -> None:
    world = world_factory(60)
    assert deploy(cli, world).code == 0
    world.aws["elbv2"].modify_listener(  # someone sends traffic back by hand
        ListenerArn=world.seeded.listeners["web-production"],
        DefaultActions=[
            {"Type": "forward", "TargetGroupArn": world.seeded.target_groups["web-green-tg"]}
        ],
    )
    kept = cli("scale-down", "dev", "--service", "web", "--now", *world.args,
               project=world.project)  # fmt: skip
    assert kept.out == "web: green takes traffic again: kept\n", kept
    assert world.ecs_service("web-green")["desiredCount"] == 1


def test_promote_on_aws_goes_through_stagings_gate(
    world_factory: Callable[[int], World],
    cli: Callable[..., CliResult],
    sample: Start,
    tmp_path: Path,
    moto_url: str,
) -> None:
    world = world_factory(0)
    overlay = world.project.overlay("staging")
    fast = "deploy:\n  trafficSteps: [100]\n  bakeSeconds: 0\n  analysis:\n    minRequests: 0\n"
    overlay.write_text(overlay.read_text(encoding="utf-8").replace("deploy:\n", fast, 1))
    write_stack_files(world.project, plan_stack_files(world.project))
    staging = render_stack(world.project, "staging")
    aws = world.aws
    seeded = apply_stack(staging, aws)
    outputs = tmp_path / "staging-outputs.json"
    values = stack_outputs(staging, seeded, {"web": sample("v3")})
    # staging probes its own load balancer during a rollout: the sample plays it on loopback.
    values["services"]["web"]["url"] = values["services"]["web"]["testUrl"]
    outputs.write_text(json.dumps(values))
    deployed = cli("deploy", "dev", "--service", "web", "--version", "v3", "--author", "erin",
                   *world.args, project=world.project)  # fmt: skip
    assert deployed.code == 0  # v3 live in dev, written by erin
    ledger = world.args[-2:]
    promote = ["promote", "dev", "staging", "--service", "web", "--by", "ci", "--platform", "aws",
               "--stack-outputs", str(outputs), "--endpoint-url", moto_url, *ledger]  # fmt: skip
    refused = cli(*promote, project=world.project)
    assert refused.code == 1 and "needs 1 approval" in refused.err, refused
    approved = cli("approve", "staging", "--release", "web@v3#unknown", "--by", "ada", *ledger,
                   project=world.project)  # fmt: skip
    assert approved.code == 0, approved
    promoted = cli(*promote, project=world.project)
    assert promoted.code == 0, promoted
    listener = aws["elbv2"].describe_listeners(ListenerArns=[seeded.listeners["web-production"]])
    groups = listener["Listeners"][0]["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]
    weights = {g["TargetGroupArn"]: g["Weight"] for g in groups}
    assert weights[seeded.target_groups["web-green-tg"]] == 999  # staging: blue -> green
    web = load_stack(world.project, "staging").config.service("web")
    assert (web.active_color.value, web.versions.green) == ("green", "v3")
