"""The parity verdict on the project itself: the edits that matter are caught, the ones that
do not are not, and the score moves by what a setting is worth (issue 13)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import yaml

from parity.run import ParityOptions, report_dict, run_parity
from shipyard.config.load import StackSources
from shipyard.stacks import plan_stack_files, write_stack_files
from tests.conftest import CliResult


def edit_overlay(project: StackSources, env: str, change: Callable[[dict[str, Any]], None]) -> None:
    path = project.overlay(env)
    doc = yaml.safe_load(path.read_text()) or {}
    change(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    write_stack_files(project, plan_stack_files(project))


def service(doc: dict[str, Any], name: str) -> dict[str, Any]:
    services = doc.setdefault("services", [])
    found = next((s for s in services if s["name"] == name), None)
    if found is None:
        found = {"name": name}
        services.append(found)
    return found


def report(project: StackSources, *envs: str) -> dict[str, Any]:
    return report_dict(run_parity(project, ParityOptions(environments=list(envs))))


def test_prod_reading_stagings_database_is_a_critical_failure(
    project: StackSources, cli: Callable[..., CliResult]
) -> None:
    def read_staging(doc: dict[str, Any]) -> None:
        web = service(doc, "web")
        web["environment"] = {"APP_ENV": "staging"}
        web["secrets"] = {
            "DATABASE_URL": "arn:aws:secretsmanager:us-east-1:123456789012:secret:"
            "shipyard/staging/web/database-url"
        }

    edit_overlay(project, "prod", read_staging)
    result = cli("parity", "--format", "json", project=project)
    assert result.code == 1, result
    data = json.loads(result.out)
    assert data["score"] < 100
    named = {d["path"]: d for d in data["differences"] if d["cross_environment"]}
    app_env = named["web-live-task.containerDefinitions[name=web].environment[name=APP_ENV].value"]
    assert app_env["values"] == {"dev": "{env}", "staging": "{env}", "prod": "staging"}
    assert app_env["cross_environment"] == {"prod": ["staging"]}
    assert app_env["classification"] == "undeclared" and app_env["critical"] is True
    secret = "web-live-task.containerDefinitions[name=web].secrets[name=DATABASE_URL].valueFrom"
    assert named[secret]["critical"] is True
    # The IAM policy granting staging's secret is caught too, inside its JSON.
    assert any(p.startswith("web-read-secrets.policy.Statement[") for p in named)
    assert any("prod names staging" in f for f in data["failures"])
    # Between dev and staging nothing changed.
    pairs = {tuple(p["environments"]): p for p in data["pairs"]}
    assert pairs[("dev", "staging")]["undeclared"] == 0


def test_an_allowed_reference_passes_and_a_mistyped_one_is_refused(
    project: StackSources, cli: Callable[..., CliResult]
) -> None:
    edit_overlay(
        project,
        "staging",
        lambda doc: service(doc, "api").update(environment={"UPSTREAM": "https://api.prod.x"}),
    )
    policy = project.stacks_dir / "parity.yaml"
    before = policy.read_text()
    allowance = (
        "\ncrossEnvironment:\n"
        '  - path: "*[name=UPSTREAM].value"\n'
        "    environment: staging\n"
        "    references: [prod]\n"
        "    reason: staging replays against prod's read-only API\n"
        "    owner: api-team\n"
    )
    rule = (
        '  - path: "*UPSTREAM*"\n    values: {dev: null, prod: null}\n'
        "    reason: only staging replays\n    owner: api-team\n"
    )
    policy.write_text(before + rule + allowance)
    allowed = report(project)
    upstream = [d for d in allowed["differences"] if d["path"].endswith("[name=UPSTREAM].value")]
    assert upstream and {d["classification"] for d in upstream} == {"declared"}
    # The allowance allows the reference; the rule declares the difference.
    assert {d["reason"] for d in upstream} == {"only staging replays"}
    assert allowed["passed"] is True, allowed["failures"]
    (shown,) = [r for r in allowed["rules"] if r["relation"] == "staging may name prod"]
    assert shown["state"] == "active" and shown["matched"] >= 2
    policy.write_text(before + rule + allowance.replace("[prod]", "[prd]"))
    refused = cli("parity", project=project)
    assert refused.code == 2
    assert refused.err.strip() == (
        "shipyard: stacks/parity.yaml: crossEnvironment[0] names 'prd', which is not an "
        "environment (environments: dev, staging, prod); fix the name"
    )


def test_flipping_the_live_color_is_no_difference(project: StackSources) -> None:
    # prod finishes a rollout: green is live, and both colors run v1.
    edit_overlay(
        project,
        "prod",
        lambda doc: service(doc, "web").update(
            activeColor="green", versions={"blue": "v1", "green": "v1"}
        ),
    )
    data = report(project)
    assert data["passed"] is True, data["failures"]
    assert data["totals"]["undeclared"] == 0
    live = next(r for r in data["resources"] if r["name"] == "web-live-tg")
    assert live["names"] == {
        "dev": "web-green-tg",
        "staging": "web-blue-tg",
        "prod": "web-green-tg",
    }


def test_the_image_rule_allows_another_tag_never_another_repository(project: StackSources) -> None:
    edit_overlay(
        project,
        "prod",
        lambda doc: service(doc, "web").update(
            image="123456789012.dkr.ecr.us-east-1.amazonaws.com/other"
        ),
    )
    data = report(project)
    repository = "web-live-task.containerDefinitions[name=web].image.repository"
    diff = next(d for d in data["differences"] if d["path"] == repository)
    assert diff["classification"] == "undeclared" and diff["critical"] is True
    assert f"critical path {repository} is undeclared" in data["failures"]
    tags = [d for d in data["differences"] if d["path"].endswith(".image.tag")]
    assert tags and {d["classification"] for d in tags} == {"declared"}


def test_a_catch_all_rule_is_reported_as_one_not_as_full_parity(project: StackSources) -> None:
    edit_overlay(project, "prod", lambda doc: service(doc, "web").update(testPort=9100))
    policy = project.stacks_dir / "parity.yaml"
    policy.write_text(
        policy.read_text().replace(
            "rules:\n",
            'rules:\n  - path: "*"\n    any: true\n    reason: ship it\n    owner: nobody\n',
            1,
        )
    )
    data = report(project)
    assert data["passed"] is False
    assert data["score"] < 100
    (catch_all,) = [r for r in data["rules"] if r["state"] == "catch-all"]
    assert catch_all["path"] == "*"
    assert any(f.startswith("rule '*' is a catch-all") for f in data["failures"])


def ten_services(project: StackSources) -> None:
    """The project with ten copies of its web service (as benchmarks/parity.py builds it)."""
    template = project.template
    doc = yaml.safe_load(template.read_text().replace("{{ env }}", "ENV"))
    first = doc["services"][0]
    doc["services"] = [
        {**first, "name": f"svc{index:02d}", "testPort": 9000 + index} for index in range(10)
    ]
    template.write_text(yaml.safe_dump(doc, sort_keys=False).replace("ENV", "{{ env }}"))
    for env in project.environments():
        overlay = project.overlay(env)
        data = yaml.safe_load(overlay.read_text())
        data.pop("services", None)
        overlay.write_text(yaml.safe_dump(data, sort_keys=False))
    write_stack_files(project, plan_stack_files(project))


def test_a_wrong_health_check_path_costs_at_least_what_a_tag_does(project: StackSources) -> None:
    ten_services(project)
    (project.stacks_dir / "parity.yaml").write_text("minScore: 0\n")
    base = report(project, "staging", "prod")["score"]
    overlay = project.overlay("prod").read_text()

    edit_overlay(project, "prod", lambda doc: doc.update(tags={"cost-center": "42"}))
    tag = base - report(project, "staging", "prod")["score"]
    project.overlay("prod").write_text(overlay)
    edit_overlay(
        project, "prod", lambda doc: service(doc, "svc03").update(healthCheck={"path": "/health"})
    )
    health = base - report(project, "staging", "prod")["score"]
    assert tag > 0
    assert health >= tag


def test_a_users_own_color_word_is_compared_as_written(project: StackSources) -> None:
    # dev pulls .../green and checks /green, prod pulls .../blue and checks /blue: these are
    # real differences, not the live color.
    registry = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
    edit_overlay(
        project,
        "dev",
        lambda doc: service(doc, "web").update(
            image=f"{registry}/green", healthCheck={"path": "/green"}
        ),
    )
    for env in ("staging", "prod"):
        edit_overlay(
            project,
            env,
            lambda doc: service(doc, "web").update(
                image=f"{registry}/blue", healthCheck={"path": "/blue"}
            ),
        )
    data = report(project)
    assert data["passed"] is False
    failing = " ".join(data["failures"])
    assert "image.repository" in failing and "healthCheck.path" in failing


def test_an_environment_named_production_and_dev_stdout_raise_no_false_alarm(
    project: StackSources,
) -> None:
    (project.stacks_dir / "production.yaml").write_text(project.overlay("prod").read_text())
    template = project.template
    template.write_text(
        template.read_text().replace(
            "      LOG_LEVEL: info\n", "      LOG_LEVEL: info\n      LOG_FILE: /dev/stdout\n", 1
        )
    )
    write_stack_files(project, plan_stack_files(project))
    data = report(project)
    assert [d["path"] for d in data["differences"] if d["cross_environment"]] == []
    # "web load balancer: production and test listeners" is one text in every environment.
    assert not [d for d in data["differences"] if d["path"].endswith("alb-sg.description")]


def test_a_service_named_like_an_environment_is_refused(
    project: StackSources, cli: Callable[..., CliResult]
) -> None:
    edit_overlay(
        project,
        "dev",
        lambda doc: service(doc, "staging").update(
            image="123456789012.dkr.ecr.us-east-1.amazonaws.com/x",
            containerPort=8082,
            testPort=9002,
            versions={"blue": "v1", "green": "v1"},
        ),
    )
    result = cli("parity", project=project)
    assert result.code == 2
    assert result.err.strip() == (
        "shipyard: dev: service 'staging' has the name of an environment, so parity cannot tell "
        "a reference to the environment from the service; rename it"
    )


def test_losing_tls_in_prod_breaks_the_rules_that_say_prod_has_it(project: StackSources) -> None:
    edit_overlay(project, "prod", lambda doc: doc.update(tls=None))
    data = report(project)
    assert data["passed"] is False
    assert "critical path web-production.protocol is undeclared" in data["failures"]
    protocol = next(d for d in data["differences"] if d["path"] == "web-production.protocol")
    assert protocol["values"] == {"dev": "HTTP", "staging": "HTTP", "prod": "HTTP"}
    assert protocol["reason"].startswith("rule broken")


def test_a_weakened_prod_deploy_policy_fails(project: StackSources) -> None:
    def weaken(doc: dict[str, Any]) -> None:
        doc["deploy"] = {
            **doc.get("deploy", {}),
            "bakeSeconds": 0,
            "trafficSteps": [100],
            "approvals": {"required": 2, "maxAgeHours": 8760},
        }
        doc["alarms"] = {"http5xxCount": 100000}

    edit_overlay(project, "prod", weaken)
    data = report(project)
    assert data["passed"] is False
    critical = {f.split(" ")[2] for f in data["failures"] if f.startswith("critical path")}
    assert {
        "stack-config.deploy.bakeSeconds",
        "stack-config.deploy.trafficSteps[0]",
        "stack-config.deploy.approvals.maxAgeHours",
        "stack-config.alarms.http5xxCount",
    } <= critical


def test_broad_rules_and_allowances_do_not_buy_a_pass(project: StackSources) -> None:
    edit_overlay(
        project,
        "prod",
        lambda doc: service(doc, "web").update(
            image="123456789012.dkr.ecr.us-east-1.amazonaws.com/other",
            environment={"APP_ENV": "staging"},
        ),
    )
    policy = project.stacks_dir / "parity.yaml"
    base = policy.read_text()
    vague = '  - path: "*[*"\n    any: true\n    reason: lists differ\n    owner: nobody\n'
    allow_all = (
        'crossEnvironment:\n  - path: "*"\n    environment: prod\n    references: [staging]\n'
        "    reason: whatever\n    owner: nobody\n"
    )
    policy.write_text(base.replace("rules:\n", "rules:\n" + vague, 1) + allow_all)
    data = report(project)
    assert data["passed"] is False
    states = {(r["path"], r["relation"]): r["state"] for r in data["rules"]}
    assert states[("*[*", "any")] == "catch-all"
    assert states[("*", "prod may name staging")] == "catch-all"
    assert any("prod names staging" in f for f in data["failures"])
    # Five narrow-looking rules that together cover most of the stack.
    letters = "".join(
        f'  - path: "{c}*"\n    any: true\n    reason: r\n    owner: nobody\n' for c in "awsnc"
    )
    policy.write_text(base.replace("rules:\n", "rules:\n" + letters, 1))
    data = report(project)
    assert data["passed"] is False
    assert any("together match" in f for f in data["failures"]) or any(
        r["state"] == "catch-all" for r in data["rules"]
    )


def test_two_environments_that_share_the_wrong_value_still_fail(project: StackSources) -> None:
    # `shipyard promote staging prod` compares just these two: prod's APP_ENV says staging, as
    # staging's own does, so the two values are equal as written; it is still a reference.
    edit_overlay(
        project, "prod", lambda doc: service(doc, "web").update(environment={"APP_ENV": "staging"})
    )
    data = report(project, "staging", "prod")
    assert data["passed"] is False
    assert any(
        f.endswith(
            "prod names staging: a reference to another environment; fix the value, "
            "or allow it under crossEnvironment in parity.yaml with a reason"
        )
        for f in data["failures"]
    )


def test_a_shared_template_value_naming_an_environment_is_no_reference(
    project: StackSources,
) -> None:
    (project.stacks_dir / "qa.yaml").write_text(project.overlay("staging").read_text())
    template = project.template
    template.write_text(
        template.read_text().replace(
            "      LOG_LEVEL: info\n", "      LOG_LEVEL: info\n      TEAM: qa-team@example.com\n", 1
        )
    )
    write_stack_files(project, plan_stack_files(project))
    data = report(project)
    assert [d["path"] for d in data["differences"] if d["cross_environment"]] == []
    # The same address set in prod's own file is prod's decision: that names qa.
    edit_overlay(
        project, "prod", lambda doc: service(doc, "api").update(environment={"OWNER": "qa-team"})
    )
    named = {d["path"] for d in report(project)["differences"] if d["cross_environment"]}
    assert "stack-config.services[name=api].environment[name=OWNER].value" in named
