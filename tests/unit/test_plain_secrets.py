"""Secrets in plain config are refused where the config is loaded, and masked in every report.

A planted secret (a DB_PASSWORD value, a URL with user:password@, an AWS key inside a JSON
string) never appears in `render`, the five parity formats, docs/environments.md or drift.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable

import pytest

from parity.drift import DriftItem, DriftReport
from parity.environments_doc import render_environments_doc
from parity.formats import RENDERERS
from parity.render import RenderedStack
from parity.run import ParityOptions, report_dict, run_parity
from shipyard.config.load import StackSources
from tests.conftest import CliResult, snapshot

PASSWORD = "hunter2-correct-horse"
URL_PASSWORD = "s3cr3t-Pa55word"
AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
PLANTED = (PASSWORD, URL_PASSWORD, AWS_KEY)
FIX = (
    "looks like a secret (Secret Keyword) and environment values are published in "
    "Pulumi.<env>.yaml and every report; move it to `secrets:` as an ARN reference "
    "(arn:aws:secretsmanager:... or arn:aws:ssm:...)"
)


def add_environment(project: StackSources, env: str, lines: str) -> None:
    overlay = project.overlay(env)
    overlay.write_text(overlay.read_text().replace("      LOG_LEVEL: debug\n", lines))


def test_a_password_in_environment_is_refused_naming_file_path_and_fix(
    project: StackSources, cli: Callable[..., CliResult]
) -> None:
    add_environment(project, "dev", f"      LOG_LEVEL: debug\n      DB_PASSWORD: {PASSWORD}\n")
    project.pulumi_stack_file("staging").write_text("stale\n")
    before = snapshot(project.root)
    result = cli("stacks", "render", project=project)
    assert result.code == 2, result
    assert result.err == (
        f"shipyard: stacks/dev.yaml: services[0].environment.DB_PASSWORD: {FIX}\n"
    )
    assert snapshot(project.root) == before


@pytest.mark.parametrize(
    ("variable", "kind"),
    [
        (f"DATABASE_URL: postgres://app:{URL_PASSWORD}@db.internal:5432/app", "Basic Auth"),
        (f"UPSTREAM_ID: {AWS_KEY}", "AWS Access Key"),
        ("API_KEY: 'changeme-please'", "Secret Keyword"),
    ],
)
def test_secret_shaped_values_are_refused_whatever_the_key(
    project: StackSources, cli: Callable[..., CliResult], variable: str, kind: str
) -> None:
    template = project.template
    template.write_text(
        template.read_text().replace("      LOG_LEVEL: info\n", f"      {variable}\n")
    )
    result = cli("stacks", "render", "dev", project=project)
    assert result.code == 2, result
    assert result.err.startswith(
        f"shipyard: stacks/template.yaml.j2: services[0].environment.{variable.split(':')[0]}: "
        f"looks like a secret ({kind}"
    ), result.err
    assert not any(secret in result.err for secret in PLANTED)


@pytest.mark.parametrize(
    "variable",
    [
        "PASSWORD_MIN_LENGTH: '12'",
        "SECRET_NAME: ${DB_SECRET}",
        "APP_ERROR_RATE: 0.3@v3",
        "AUTH_MODE: password",
        "CALLBACK_URL: https://example.com/callback",
        "IMAGE: 123456789012.dkr.ecr.us-east-1.amazonaws.com/shipyard-web",
    ],
)
def test_ordinary_values_are_not_mistaken_for_secrets(
    project: StackSources, cli: Callable[..., CliResult], variable: str
) -> None:
    add_environment(project, "dev", f"      LOG_LEVEL: debug\n      {variable}\n")
    result = cli("stacks", "render", project=project)
    assert result.code == 0, result


def test_a_hand_edited_stack_file_with_a_password_is_refused_at_render(
    project: StackSources, cli: Callable[..., CliResult]
) -> None:
    stack_file = project.pulumi_stack_file("dev")
    stack_file.write_text(
        stack_file.read_text().replace("LOG_LEVEL: debug", f"DB_PASSWORD: {PASSWORD}", 1)
    )
    result = cli("render", "dev", project=project)
    assert result.code == 2, result
    assert result.err.startswith(
        "shipyard: Pulumi.dev.yaml: config.shipyard:services[0].environment.DB_PASSWORD: "
        "looks like a secret"
    ), result.err
    assert PASSWORD not in result.err and result.out == ""


def test_render_masks_a_secret_that_reached_the_stack_another_way(
    project: StackSources, cli: Callable[..., CliResult]
) -> None:
    # Tags are not environment values: nothing refuses them, so the report must mask them.
    template = project.template
    template.write_text(
        template.read_text()
        + f"  shipyard:backup: postgres://admin:{URL_PASSWORD}@backup.internal/app\n"
        + f"  shipyard:uploader: {AWS_KEY}\n"
    )
    assert cli("stacks", "render", project=project).code == 0
    for output_format in ("json", "yaml"):
        result = cli("render", "dev", "--format", output_format, project=project)
        assert result.code == 0, result
        assert "postgres://admin:[secret]@backup.internal/app" in result.out
        assert not any(secret in result.out for secret in PLANTED), output_format


def planted(rendered: dict[str, RenderedStack]) -> dict[str, RenderedStack]:
    """The committed stacks, with secrets planted in dev's task definition and tags."""
    stacks = {env: copy.deepcopy(stack) for env, stack in rendered.items()}
    task = stacks["dev"].find("aws:ecs/taskDefinition:TaskDefinition", "web-blue-task")
    containers = json.loads(task["inputs"]["containerDefinitions"])
    containers[0]["environment"].append({"name": "DB_PASSWORD", "value": PASSWORD})
    containers[0]["environment"].append(
        {"name": "CACHE_URL", "value": f"redis://cache:{URL_PASSWORD}@cache.internal:6379"}
    )
    task["inputs"]["containerDefinitions"] = json.dumps(containers)
    task["inputs"].setdefault("tags", {})["uploader"] = AWS_KEY
    return stacks


def test_no_report_format_and_not_the_environments_doc_show_a_planted_secret(
    repo_sources: StackSources, rendered: dict[str, RenderedStack]
) -> None:
    report = report_dict(run_parity(repo_sources, ParityOptions(), rendered=planted(rendered)))
    password = next(d for d in report["differences"] if d["path"].endswith("DB_PASSWORD].value"))
    assert password["values"]["dev"] == "[secret]"
    assert password["classification"] == "missing"  # only dev has it
    outputs = {name: render(report, False) for name, render in RENDERERS.items()}
    outputs["docs/environments.md"] = render_environments_doc(report)
    for name, text in outputs.items():
        assert "[secret]" in text, name
        for secret in PLANTED:
            assert secret not in text, (name, secret)


def test_drift_masks_secret_shaped_values() -> None:
    report = DriftReport(
        "dev",
        [
            DriftItem("web-task", "changed", "DB_PASSWORD", PASSWORD, "hunter3-other-pass"),
            DriftItem("web-task", "changed", "image", f"web:{AWS_KEY}", "web:v1"),
        ],
        {"services": 1},
    )
    text = json.dumps(report.to_dict()) + "\n".join(item.line() for item in report.items)
    assert "[secret]" in text
    for secret in (PASSWORD, "hunter3-other-pass", AWS_KEY):
        assert secret not in text


def test_a_wrongly_typed_secret_is_not_quoted_back_in_the_error(
    project: StackSources, cli: Callable[..., CliResult]
) -> None:
    add_environment(project, "dev", f"      LOG_LEVEL: debug\n      DB_PASSWORD: [{PASSWORD}]\n")
    result = cli("stacks", "render", project=project)
    assert result.code == 2, result
    assert result.err.startswith(
        "shipyard: stacks/dev.yaml: services[0].environment.DB_PASSWORD: must be a valid string"
    ), result.err
    assert PASSWORD not in result.err
