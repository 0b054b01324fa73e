"""YAML anchors in stacks/: one service's override never reaches another service.

An anchor shares a block between services as the file is written; once read, each use is that
service's own, so an overlay that changes (or removes) a key for one service changes it for that
service only, in the loaded stack, in Pulumi.<env>.yaml and in the rendered resources.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import yaml

from shipyard.config.load import StackSources, load_stack
from tests.conftest import CliResult

TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
HEALTH_CHECK = (
    "    healthCheck:\n"
    "      path: /healthz\n"
    '      matcher: "200"\n'
    "      intervalSeconds: 10\n"
    "      timeoutSeconds: 5\n"
    "      healthyThreshold: 3\n"
    "      unhealthyThreshold: 3\n"
)
WEB_ENVIRONMENT = '    environment:\n      APP_ENV: "{{ env }}"\n      LOG_LEVEL: info\n'
API_ENVIRONMENT = '    environment:\n      APP_ENV: "{{ env }}"\n    activeColor'


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"expected one {old!r}"
    return text.replace(old, new)


def anchor_health_checks(project: StackSources) -> None:
    """The template's web health check anchored as &hc; api's is `*hc` (the same values)."""
    template = project.template.read_text()
    assert template.count(HEALTH_CHECK) == 2
    web, api, rest = template.split(HEALTH_CHECK, 2)
    anchored = HEALTH_CHECK.replace("healthCheck:", "healthCheck: &hc")
    project.template.write_text(web + anchored + api + "    healthCheck: *hc\n" + rest)


def anchor_environments(project: StackSources) -> None:
    """The template's web environment anchored as &env; api's is `*env`."""
    template = project.template.read_text()
    template = replace_once(
        template, WEB_ENVIRONMENT, WEB_ENVIRONMENT.replace("environment:", "environment: &env")
    )
    template = replace_once(template, API_ENVIRONMENT, "    environment: *env\n    activeColor")
    project.template.write_text(template)


def add_to_prod_service(project: StackSources, service: str, lines: str) -> None:
    """Append keys to a service's entry in stacks/prod.yaml."""
    prod = project.overlay("prod")
    entry = {"web": "    deregistrationDelaySeconds: 60\n", "api": "    desiredCount: 3\n"}[service]
    prod.write_text(replace_once(prod.read_text(), entry, entry + lines))


def by_name(services: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {service["name"]: service for service in services}


def stack_file_services(project: StackSources, env: str) -> dict[str, dict[str, Any]]:
    doc = yaml.safe_load(project.pulumi_stack_file(env).read_text())
    return by_name(doc["config"]["shipyard:services"])


def rendered_resources(cli: Callable[..., CliResult], project: StackSources) -> dict[Any, Any]:
    result = cli("render", "prod", project=project)
    assert result.code == 0, result
    return {(r["type"], r["name"]): r for r in json.loads(result.out)["resources"]}


def test_a_prod_override_of_an_anchored_health_check_changes_web_only(
    project: StackSources, cli: Callable[..., CliResult]
) -> None:
    anchor_health_checks(project)
    assert cli("stacks", "render", project=project).code == 0
    before = rendered_resources(cli, project)
    dev_stack_file = project.pulumi_stack_file("dev").read_bytes()

    add_to_prod_service(project, "web", "    healthCheck:\n      path: /ready\n")

    prod = {s.name: s for s in load_stack(project, "prod").config.services}
    assert prod["web"].health_check.path == "/ready"
    assert prod["api"].health_check.path == "/healthz"
    assert prod["web"].health_check.model_dump(exclude={"path"}) == prod[
        "api"
    ].health_check.model_dump(exclude={"path"})
    dev = {s.name: s for s in load_stack(project, "dev").config.services}
    assert dev["web"].health_check.path == dev["api"].health_check.path == "/healthz"

    result = cli("stacks", "render", project=project)
    assert result.code == 0, result
    assert "Pulumi.prod.yaml: written" in result.out
    services = stack_file_services(project, "prod")
    assert services["web"]["healthCheck"]["path"] == "/ready"
    assert services["api"]["healthCheck"]["path"] == "/healthz"
    assert project.pulumi_stack_file("dev").read_bytes() == dev_stack_file

    after = rendered_resources(cli, project)
    assert after.keys() == before.keys()
    changed = sorted(key for key, resource in after.items() if resource != before[key])
    assert changed == [(TARGET_GROUP, "web-blue-tg"), (TARGET_GROUP, "web-green-tg")]
    for key in changed:
        old, new = before[key], after[key]
        assert new["inputs"]["healthCheck"] == {**old["inputs"]["healthCheck"], "path": "/ready"}
        assert {**new["inputs"], "healthCheck": None} == {**old["inputs"], "healthCheck": None}
    for color in ("blue", "green"):
        api_check = after[(TARGET_GROUP, f"api-{color}-tg")]["inputs"]["healthCheck"]
        assert api_check["path"] == "/healthz"


def test_an_overlay_anchor_and_a_null_under_an_alias_stay_with_their_service(
    project: StackSources, cli: Callable[..., CliResult]
) -> None:
    anchor_environments(project)
    # web removes LOG_LEVEL from the block it shares with api in the template, and anchors its
    # additions; api reuses those additions (a merge key over the alias) with its own level.
    add_to_prod_service(
        project, "web", '    environment: &extra\n      LOG_LEVEL: null\n      FEATURE_X: "on"\n'
    )
    add_to_prod_service(
        project, "api", "    environment:\n      <<: *extra\n      LOG_LEVEL: debug\n"
    )

    loaded = load_stack(project, "prod")
    prod = {s.name: s for s in loaded.config.services}
    assert prod["web"].environment == {"APP_ENV": "prod", "FEATURE_X": "on"}
    assert prod["api"].environment == {"APP_ENV": "prod", "FEATURE_X": "on", "LOG_LEVEL": "debug"}
    overlay = by_name(loaded.overlay["services"])
    assert overlay["web"]["environment"] == {"LOG_LEVEL": None, "FEATURE_X": "on"}
    template = by_name(loaded.base["services"])
    assert template["web"]["environment"] == template["api"]["environment"]
    assert template["api"]["environment"] == {"APP_ENV": "prod", "LOG_LEVEL": "info"}
    dev = {s.name: s for s in load_stack(project, "dev").config.services}
    assert dev["web"].environment == {"APP_ENV": "dev", "LOG_LEVEL": "debug"}  # stacks/dev.yaml
    assert dev["api"].environment == {"APP_ENV": "dev", "LOG_LEVEL": "info"}

    assert cli("stacks", "render", project=project).code == 0
    services = stack_file_services(project, "prod")
    assert services["web"]["environment"] == {"APP_ENV": "prod", "FEATURE_X": "on"}
    assert services["api"]["environment"] == {
        "APP_ENV": "prod",
        "FEATURE_X": "on",
        "LOG_LEVEL": "debug",
    }
