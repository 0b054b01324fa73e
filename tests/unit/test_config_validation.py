"""Bad stack config: exit 2, one line naming the file, the config path and the fix; nothing written.

Each case edits a copy of the project, runs `shipyard stacks render` (which would write every
stale Pulumi.<env>.yaml), and checks the message and that no file changed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import yaml

from shipyard.config.load import StackSources
from tests.conftest import CliResult, snapshot


def edit_yaml(path: Any, change: Callable[[dict[str, Any]], None]) -> None:
    doc = yaml.safe_load(path.read_text()) or {}
    change(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def service(doc: dict[str, Any], name: str) -> dict[str, Any]:
    for entry in doc.setdefault("services", []):
        if entry["name"] == name:
            return entry
    entry = {"name": name}
    doc["services"].append(entry)
    return entry


CASES: list[tuple[str, str, Callable[[dict[str, Any]], None], str]] = [
    (
        "missing key in a service the overlay adds",
        "dev",
        lambda d: d["services"].append(
            {"name": "worker", "containerPort": 8000, "versions": {"blue": "v1"}}
        ),
        "stacks/dev.yaml: services[2].image: is required (a string)",
    ),
    (
        "required top-level key removed with null",
        "staging",
        lambda d: d.update(region=None),
        "stacks/staging.yaml: region: is required (a string)",
    ),
    (
        "wrong type",
        "prod",
        lambda d: service(d, "web").update(desiredCount="four"),
        "stacks/prod.yaml: services[0].desiredCount: must be a valid integer (got 'four')",
    ),
    (
        "wrong type for a mapping",
        "dev",
        lambda d: d.update(network=["10.0.0.0/16"]),
        "stacks/dev.yaml: network: must be a valid dictionary",
    ),
    (
        "weight above 100",
        "dev",
        lambda d: service(d, "api").update(weights={"blue": 150, "green": 0}),
        "stacks/dev.yaml: services[1].weights.blue: must be less than or equal to 100 (got 150)",
    ),
    (
        "negative weight",
        "dev",
        lambda d: service(d, "api").update(weights={"blue": 110, "green": -10}),
        "stacks/dev.yaml: services[1].weights.blue: must be less than or equal to 100",
    ),
    (
        "weights that do not sum to 100",
        "staging",
        lambda d: service(d, "web").update(weights={"blue": 60, "green": 30}),
        "stacks/staging.yaml: services[0].weights: blue + green must sum to 100 (got 60 + 30 = 90)",
    ),
    (
        "invalid CIDR",
        "prod",
        lambda d: d["network"].update(cidr="10.30.0.0/33"),
        "stacks/prod.yaml: network.cidr: must be an IPv4 CIDR such as 10.0.0.0/16",
    ),
    (
        "CIDR with host bits",
        "prod",
        lambda d: d["network"].update(cidr="10.30.1.0/16"),
        "stacks/prod.yaml: network.cidr: must be an IPv4 CIDR",
    ),
    (
        "zero desired count",
        "prod",
        lambda d: service(d, "api").update(desiredCount=0),
        "stacks/prod.yaml: services[1].desiredCount: must be greater than 0 (got 0)",
    ),
    (
        "negative idle count",
        "staging",
        lambda d: service(d, "api").update(idleDesiredCount=-1),
        "stacks/staging.yaml: services[0].idleDesiredCount: must be greater than or equal to 0",
    ),
    (
        "zero AZs",
        "dev",
        lambda d: d["network"].update(azCount=0),
        "stacks/dev.yaml: network.azCount: must be greater than or equal to 1 (got 0)",
    ),
    (
        "unknown key with a close match",
        "prod",
        lambda d: service(d, "web").update(desiredCuont=3),
        "stacks/prod.yaml: services[0].desiredCuont: unknown key 'desiredCuont'; "
        "did you mean 'desiredCount'?",
    ),
    (
        "unknown nested key with a close match",
        "staging",
        lambda d: d["deploy"].update(aprovals={"required": 1}),
        "stacks/staging.yaml: deploy.aprovals: unknown key 'aprovals'; did you mean 'approvals'?",
    ),
    (
        "unknown key with nothing close lists the valid keys",
        "dev",
        lambda d: d.update(colour="blue"),
        "stacks/dev.yaml: colour: unknown key 'colour'; valid keys: alarms, deploy, "
        "environment, ledger, network, pulumiConfig, region, services, tags, tls",
    ),
    (
        "health check path",
        "prod",
        lambda d: service(d, "web").update(healthCheck={"path": "healthz"}),
        "stacks/prod.yaml: services[0].healthCheck.path: must start with '/' (got 'healthz')",
    ),
    (
        "health check timeout not below interval",
        "staging",
        lambda d: service(d, "web").update(healthCheck={"timeoutSeconds": 10}),
        "stacks/staging.yaml: services[0].healthCheck: timeoutSeconds (10) must be less than "
        "intervalSeconds (10)",
    ),
    (
        "active color unknown",
        "dev",
        lambda d: service(d, "web").update(activeColor="red"),
        "stacks/dev.yaml: services[0].activeColor: must be 'blue' or 'green' (got 'red')",
    ),
    (
        "traffic steps not ending at 100",
        "dev",
        lambda d: d["deploy"].update(trafficSteps=[10, 50]),
        "stacks/dev.yaml: deploy.trafficSteps: the last step must be 100 (got [10, 50])",
    ),
    (
        "prod with fewer than two approvals",
        "prod",
        lambda d: d["deploy"]["approvals"].update(required=1),
        "stacks/prod.yaml: deploy.approvals.required is 1; prod needs at least 2 distinct "
        "reviewers",
    ),
    (
        "cpu and memory Fargate cannot run",
        "prod",
        lambda d: service(d, "web").update(memory=8192),
        "stacks/prod.yaml: services[0]: memory 8192 does not fit cpu 512 on Fargate: use 1024 "
        "to 4096 in steps of 1024 MiB",
    ),
    (
        "secret given as a value instead of a reference",
        "dev",
        lambda d: service(d, "api").update(secrets={"TOKEN": "hunter2"}),
        "stacks/dev.yaml: services[1].secrets.TOKEN: must reference a secret by ARN",
    ),
    (
        "image with a tag",
        "staging",
        lambda d: service(d, "web").update(image="nginx:1.27"),
        "stacks/staging.yaml: services[0].image: must be an image repository without a tag",
    ),
    (
        "environment key naming another environment",
        "dev",
        lambda d: d.update(environment="prod"),
        "stacks/dev.yaml: environment: is 'prod' but the file is for 'dev'",
    ),
]


@pytest.mark.parametrize(
    ("env", "change", "message"),
    [pytest.param(env, change, message, id=case) for case, env, change, message in CASES],
)
def test_bad_config_exits_2_naming_file_and_path_and_writes_nothing(
    project: StackSources,
    cli: Callable[..., CliResult],
    env: str,
    change: Callable[[dict[str, Any]], None],
    message: str,
) -> None:
    edit_yaml(project.overlay(env), change)
    # Make another environment's stack file stale, so a partial write would show.
    project.pulumi_stack_file("staging" if env != "staging" else "dev").write_text("stale\n")
    before = snapshot(project.root)

    result = cli("stacks", "render", project=project)

    assert result.code == 2, result
    assert result.err.startswith(f"shipyard: {message}"), result.err
    assert len(result.err.strip().splitlines()) == 1
    assert "Traceback" not in result.err
    assert result.out == ""
    assert snapshot(project.root) == before


def test_error_in_a_template_value_names_the_template(
    project: StackSources, cli: Callable[..., CliResult]
) -> None:
    template = project.template
    template.write_text(template.read_text().replace("path: /healthz", "path: healthz", 1))
    before = snapshot(project.root)
    result = cli("stacks", "render", project=project)
    assert result.code == 2
    assert result.err.startswith(
        "shipyard: stacks/template.yaml.j2: services[0].healthCheck.path: must start with '/'"
    ), result.err
    assert snapshot(project.root) == before


def test_invalid_yaml_names_the_line(project: StackSources, cli: Callable[..., CliResult]) -> None:
    project.overlay("prod").write_text("network:\n  cidr: [10.0.0.0/16\n")
    result = cli("stacks", "render", project=project)
    assert result.code == 2
    assert result.err.startswith("shipyard: stacks/prod.yaml: line 3: invalid YAML"), result.err


def test_template_syntax_error_names_the_template(
    project: StackSources, cli: Callable[..., CliResult]
) -> None:
    project.template.write_text(project.template.read_text() + "\n{% if env %}\n")
    result = cli("stacks", "render", project=project)
    assert result.code == 2
    assert result.err.startswith("shipyard: stacks/template.yaml.j2: line"), result.err
    assert "template syntax" in result.err


def test_undefined_template_variable_says_what_is_available(
    project: StackSources, cli: Callable[..., CliResult]
) -> None:
    project.template.write_text(project.template.read_text() + "\nowner: {{ team }}\n")
    result = cli("stacks", "render", project=project)
    assert result.code == 2
    assert "'team' is undefined" in result.err
    assert "{{ env }}" in result.err


@pytest.mark.parametrize(
    "args",
    [("render", "qa"), ("stacks", "render", "qa"), ("stacks", "render", "--check", "qa")],
)
def test_unknown_environment_exits_2_listing_the_known_ones(
    project: StackSources, cli: Callable[..., CliResult], args: tuple[str, ...]
) -> None:
    before = snapshot(project.root)
    result = cli(*args, project=project)
    assert result.code == 2
    assert result.err == (
        "shipyard: unknown environment 'qa': no stacks/qa.yaml (environments: dev, staging, prod)\n"
    )
    assert snapshot(project.root) == before


def test_overlay_service_without_a_name_cannot_be_matched(
    project: StackSources, cli: Callable[..., CliResult]
) -> None:
    edit_yaml(project.overlay("dev"), lambda d: d["services"].append({"desiredCount": 3}))
    result = cli("stacks", "render", project=project)
    assert result.code == 2
    assert result.err.startswith(
        "shipyard: stacks/dev.yaml: services[2].name: is required: entries are matched"
    ), result.err


def test_several_problems_report_the_first_and_count_the_rest(
    project: StackSources, cli: Callable[..., CliResult]
) -> None:
    edit_yaml(
        project.overlay("dev"),
        lambda d: service(d, "web").update(desiredCount=0, containerPort=0),
    )
    result = cli("stacks", "render", project=project)
    assert result.code == 2
    assert "(and 1 more problem)" in result.err
