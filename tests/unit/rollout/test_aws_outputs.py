"""The AWS platform reads its resources from the stack's outputs: the program must export all
of them, and a missing one must say what to run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from parity.render import RenderedStack
from rollout.platforms.aws.outputs import StackOutputs
from shipyard.config.model import Color
from shipyard.errors import CheckFailed, UsageError


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_the_program_exports_everything_a_rollout_needs(
    env: str, rendered: dict[str, RenderedStack]
) -> None:
    outputs = StackOutputs(env, rendered[env].outputs, "rendered")
    for name in ("web", "api"):
        service = outputs.service(name)
        assert service.cluster == f"shipyard-{env}"
        assert service.production_listener.endswith(f"listener/{name}-production")
        assert service.test_listener.endswith(f"listener/{name}-test")
        assert service.target_groups[Color.GREEN].endswith(f"targetgroup/{name}-green-tg")
        assert service.ecs_services == {Color.BLUE: f"{name}-blue", Color.GREEN: f"{name}-green"}
        assert service.alarms[Color.BLUE] == [
            f"shipyard-{env}-{name}-blue-{kind}"
            for kind in ("5xx", "p99-latency", "unhealthy-hosts")
        ]
        assert service.load_balancer.startswith(f"app/{name}-alb/")
        assert service.test_url.endswith(":9000" if name == "web" else ":9001")


def test_a_missing_output_names_what_to_run(rendered: dict[str, RenderedStack]) -> None:
    values = json.loads(json.dumps(rendered["staging"].outputs))
    del values["services"]["api"]["targetGroupArns"]["green"]
    with pytest.raises(CheckFailed) as raised:
        StackOutputs("staging", values, "outputs.json").service("api")
    assert str(raised.value) == (
        "stack staging has no output services.api.targetGroupArns.green (read from "
        "outputs.json): run `pulumi up -s staging`, then `pulumi stack output -s staging "
        "--json` again"
    )
    with pytest.raises(CheckFailed, match="no output services.cache "):
        StackOutputs("staging", values, "outputs.json").service("cache")


def test_another_stacks_outputs_are_refused(rendered: dict[str, RenderedStack]) -> None:
    with pytest.raises(UsageError, match="holds the outputs of stack 'prod', not 'dev'"):
        StackOutputs("dev", rendered["prod"].outputs, "outputs.json").service("web")


def test_unreadable_files_say_how_to_write_them(tmp_path: Path) -> None:
    missing = tmp_path / "none.json"
    with pytest.raises(UsageError, match=r"no such file; write it with `pulumi stack output"):
        StackOutputs.from_file(missing, "dev")
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(UsageError, match=r"not JSON \(Expecting property name"):
        StackOutputs.from_file(broken, "dev")
    listed = tmp_path / "list.json"
    listed.write_text("[]")
    with pytest.raises(UsageError, match="expected the JSON object"):
        StackOutputs.from_file(listed, "dev")


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("arn:aws:ecs:us-east-1:123456789012:task-definition/prod-web-blue:7", "environment"),
        ("arn:aws:ecs:us-east-1:123456789012:task-definition/dev-web-green:3", "color"),
        ("arn:aws:ecs:us-east-1:123456789012:task-definition/dev-api-blue:3", "service"),
        ("arn:aws:ecs:us-east-1:123456789012:task-definition/dev-web-blue", "no revision"),
        ("dev-web-blue:3", "not an ARN"),
        (5, "not a string"),
    ],
)
def test_a_template_of_another_family_is_refused(
    rendered: dict[str, RenderedStack], value: object, why: str
) -> None:
    """A color's next revision is registered from its template, with the template's execution
    role, secrets and variables: another environment's (or color's, or service's) template
    would run dev with prod's role and secrets, so it is refused before any rollout starts."""
    values = json.loads(json.dumps(rendered["dev"].outputs))
    values.pop("environment")  # even when the file does not say whose outputs these are
    values["services"]["web"]["taskDefinitionArns"]["blue"] = value
    with pytest.raises(UsageError) as raised:
        StackOutputs("dev", values, "outputs.json").service("web")
    assert str(raised.value) == (
        f"outputs.json: services.web.taskDefinitionArns.blue is {value!r}, not a revision of "
        "task definition family dev-web-blue (the program's template for web's blue color in "
        "dev): pass this stack's own `pulumi stack output -s dev --json`"
    ), why
