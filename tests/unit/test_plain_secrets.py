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
from shipyard.config.plain_secrets import mask_text
from tests.conftest import CliResult, snapshot

PASSWORD = "hunter2-correct-horse"
URL_PASSWORD = "s3cr3t-Pa55word"
AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
GITHUB_TOKEN = "ghp_" + "a1B2c3D4e5" * 3 + "f6G7h8"
SLACK_URL = "https://hooks.slack.com/services/T0123ABCD/B0123ABCD/abcdefghijklmnopqrstuvwx"
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
        "TOKEN_TTL: '3600'",
        "CREDENTIALS_ENABLED: 'true'",
        "AUTH_ISSUER: https://auth.example.com/",
        "DB_HOST: postgres://db.internal:5432/app",
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


@pytest.mark.parametrize(
    ("appended", "path", "fix"),
    [
        ("tags: {DB_PASSWORD: hunter2}\n", "tags.DB_PASSWORD", "tags are not for secrets"),
        (
            "pulumiConfig: {'db:password': hunter2x}\n",
            "pulumiConfig.db:password",
            "pulumi config set --secret",
        ),
        (
            f"pulumiConfig: {{'github:token': {GITHUB_TOKEN}}}\n",
            "pulumiConfig.github:token",
            "pulumi config set --secret",
        ),
        (
            "deploy: {webhookUrl: 'https://user:hunter2@hooks.example.com/x'}\n",
            "deploy.webhookUrl",
            "webhookUrl: ${SHIPYARD_WEBHOOK_URL}",
        ),
        (f"deploy: {{webhookUrl: '{SLACK_URL}'}}\n", "deploy.webhookUrl", "SHIPYARD_WEBHOOK_URL"),
    ],
)
def test_a_secret_anywhere_in_the_stack_config_is_refused(
    project: StackSources, cli: Callable[..., CliResult], appended: str, path: str, fix: str
) -> None:
    overlay = project.overlay("dev")
    text = overlay.read_text()
    if appended.startswith("deploy:"):  # dev already has a deploy block: add to it
        text = text.replace(
            "deploy:\n", "deploy:\n  " + appended.split("{", 1)[1].rstrip("}\n") + "\n"
        )
    else:
        text += appended
    overlay.write_text(text)
    before = snapshot(project.root)
    result = cli("stacks", "render", project=project)
    assert result.code == 2, result
    assert result.err.startswith(f"shipyard: stacks/dev.yaml: {path}: looks like a secret"), result
    assert fix in result.err and len(result.err.splitlines()) == 1
    for secret in ("hunter2", GITHUB_TOKEN, SLACK_URL.rsplit("/", 1)[1]):
        assert secret not in result.err
    assert snapshot(project.root) == before


def test_encrypted_pulumi_config_and_a_webhook_variable_are_not_secrets(
    project: StackSources, cli: Callable[..., CliResult]
) -> None:
    overlay = project.overlay("dev")
    overlay.write_text(
        overlay.read_text().replace("deploy:\n", "deploy:\n  webhookUrl: ${SHIPYARD_WEBHOOK_URL}\n")
        + "pulumiConfig:\n  db:password: {secure: AAABAHkzvgGKcGJv5T5nH8HmX7Rf2nT4Qm8kGz9vL0pQ}\n"
    )
    result = cli("stacks", "render", project=project)
    assert result.code == 0, result


def test_a_hand_edited_stack_file_with_a_secret_tag_is_refused_at_render(
    project: StackSources, cli: Callable[..., CliResult]
) -> None:
    stack_file = project.pulumi_stack_file("dev")
    stack_file.write_text(
        stack_file.read_text().replace(
            "    shipyard:project: shipyard\n",
            f"    shipyard:project: shipyard\n    uploader: {AWS_KEY}\n",
        )
    )
    result = cli("render", "dev", project=project)
    assert result.code == 2, result
    assert result.err.startswith(
        "shipyard: Pulumi.dev.yaml: config.shipyard:tags.uploader: looks like a secret"
    ), result.err
    assert AWS_KEY not in result.err and result.out == ""


@pytest.mark.parametrize(
    ("variable", "secret"),
    [
        ("MY_CREDENTIALS: t0psecret", "t0psecret"),
        ("AUTH: Bearer t0psecretvalue123", "t0psecretvalue123"),
        ("REDIS: 'redis://:hunter2@cache:6379'", "hunter2"),
        ("CONN: Server=x;Password=hunter2;", "hunter2"),
        ("GITHUB_TOKEN: t0psecret", "t0psecret"),
    ],
)
def test_more_secret_shapes_in_environment_are_refused_and_masked(
    project: StackSources, cli: Callable[..., CliResult], variable: str, secret: str
) -> None:
    add_environment(project, "dev", f"      LOG_LEVEL: debug\n      {variable}\n")
    result = cli("stacks", "render", project=project)
    name = variable.split(":")[0]
    assert result.code == 2, result
    assert result.err.startswith(
        f"shipyard: stacks/dev.yaml: services[0].environment.{name}: looks like a secret"
    ), result.err
    assert secret not in result.err
    value = variable.split(": ", 1)[1].strip("'")
    assert secret not in mask_text(value, name)


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


@pytest.mark.parametrize("value", ["{v: hunter2}", "12345678", "[hunter2, x]", "true"])
def test_an_environment_value_of_the_wrong_type_is_never_quoted_back(
    project: StackSources, cli: Callable[..., CliResult], value: str
) -> None:
    add_environment(project, "dev", f"      LOG_LEVEL: debug\n      DB_PASSWORD: {value}\n")
    result = cli("stacks", "render", project=project)
    assert result.code == 2, result
    assert result.err.startswith(
        "shipyard: stacks/dev.yaml: services[0].environment.DB_PASSWORD: must be a valid string "
        "(got "
    ), result.err
    assert "hunter2" not in result.err and "12345678" not in result.err


def test_a_vendor_token_is_masked_whole_not_only_its_prefix() -> None:
    # GitHub's detector captures only "ghp": the rest of the token is the secret.
    assert mask_text(f"token {GITHUB_TOKEN} here") == "token [secret] here"
