"""`pulumi up` after a rollout, against moto server: it never moves traffic and never changes
which version a color runs, from whatever commit it runs (docs/aws.md, "Who owns what").

The stack is applied by the seeder; a later `pulumi up` is `update_stack`, which writes every
input the engine may change (the worst case: state refreshed from what is live, and every
input differing from it) and none in the resource's `ignore_changes`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aws_harness.seed import stack_outputs, update_stack
from parity.render import render_stack
from shipyard.stacks import plan_stack_files, write_stack_files
from tests.conftest import CliResult
from tests.integration.test_aws_deploy import World, deploy, world_factory

__all__ = ["world_factory"]  # the fixture, shared with the deploy tests

pytestmark = pytest.mark.usefixtures("calls_within_policy")
COLORS = ("blue", "green")


def running(world: World) -> dict[str, tuple[str, int]]:
    """Each color's task definition and size, as ECS runs them."""
    services = {c: world.ecs_service(f"web-{c}") for c in COLORS}
    return {c: (s["taskDefinition"], s["desiredCount"]) for c, s in services.items()}


def environment_of(task: dict[str, Any]) -> dict[str, str]:
    container = task["taskDefinition"]["containerDefinitions"][0]
    return {e["name"]: e["value"] for e in container["environment"]}


@pytest.mark.parametrize("honour_ignore", [True, False], ids=["ignore_changes", "without"])
def test_pulumi_up_from_the_commit_before_a_rollout_leaves_what_the_rollout_set(
    world_factory: Callable[[int], World], cli: Callable[..., CliResult], honour_ignore: bool
) -> None:
    world = world_factory(60)
    older = render_stack(world.project, "dev")  # the commit before: web v2 live on green
    assert deploy(cli, world).code == 0  # v3 live on blue, green warm for 60 s
    live, test = world.raw_weights(), world.raw_weights("test")
    assert live == {"blue": 999, "green": 0}
    rolled = running(world)

    update_stack(older, world.seeded, world.aws, honour_ignore=honour_ignore)

    if honour_ignore:
        assert world.raw_weights() == live
        assert world.raw_weights("test") == test
        assert running(world) == rolled
        assert environment_of(world.task("web-blue"))["SHIPYARD_VERSION"] == "v3"
    else:  # the control: the same update without the option undoes the release
        assert world.raw_weights() == {"blue": 0, "green": 999}
        assert environment_of(world.task("web-blue"))["SHIPYARD_VERSION"] == "v1"


def test_a_changed_template_reaches_a_color_through_the_next_rollout_only(
    world_factory: Callable[[int], World], cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    world = world_factory(0)
    overlay = world.project.overlay("dev")
    text = overlay.read_text(encoding="utf-8")
    overlay.write_text(text.replace("LOG_LEVEL: debug", "LOG_LEVEL: info"), encoding="utf-8")
    write_stack_files(world.project, plan_stack_files(world.project))
    newer = render_stack(world.project, "dev")
    before = running(world)

    update_stack(newer, world.seeded, world.aws)  # then `pulumi stack output` again, as CI does
    outputs = json.loads(json.dumps(stack_outputs(newer, world.seeded, {})))
    previous = json.loads((tmp_path / "outputs.json").read_text(encoding="utf-8"))
    outputs["services"]["web"]["testUrl"] = previous["services"]["web"]["testUrl"]
    (tmp_path / "outputs.json").write_text(json.dumps(outputs), encoding="utf-8")

    assert running(world) == before  # nothing running changed in place
    assert environment_of(world.task("web-green"))["LOG_LEVEL"] == "debug"
    assert deploy(cli, world).code == 0
    blue = environment_of(world.task("web-blue"))
    assert (blue["LOG_LEVEL"], blue["SHIPYARD_VERSION"], blue["SHIPYARD_COLOR"]) == (
        "info",
        "v3",
        "blue",
    )
