"""`shipyard parity` on the project: exit codes, explanations, formats, and what must not leak."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pytest

from parity.formats import RENDERERS
from parity.render import RenderedStack, render_program
from parity.run import ParityOptions, report_dict, run_parity
from shipyard.config.load import StackSources
from shipyard.config.pulumi_config import flatten_for_engine
from tests.conftest import CliResult, snapshot


def test_the_committed_environments_pass_with_every_difference_declared(
    cli: Callable[..., CliResult], repo_sources: StackSources
) -> None:
    result = cli("parity", "--format", "json", project=repo_sources)
    assert result.code == 0, result
    report = json.loads(result.out)
    assert report["score"] == 100.0
    assert report["raw_identity"] < report["score"]
    assert report["passed"] is True
    assert {d["classification"] for d in report["differences"]} == {"declared"}
    assert [p["environments"] for p in report["pairs"]] == [
        ["dev", "staging"],
        ["dev", "prod"],
        ["staging", "prod"],
    ]
    assert all(r["state"] == "active" for r in report["rules"])


def test_differences_say_where_the_value_came_from(repo_sources: StackSources) -> None:
    report = report_dict(run_parity(repo_sources, ParityOptions()))
    delay = next(d for d in report["differences"] if d["path"] == "web-live-tg.deregistrationDelay")
    assert delay["values"] == {"dev": 30, "staging": 30, "prod": 60}
    assert delay["classification"] == "declared"
    assert delay["critical"] is True
    assert delay["reason"] == "prod web has long-polling clients that need a longer drain"
    assert delay["source"] == {
        "dev": "stacks/template.yaml.j2 (template default): "
        "services[name=web].deregistrationDelaySeconds",
        "staging": "stacks/template.yaml.j2 (template default): "
        "services[name=web].deregistrationDelaySeconds",
        "prod": "stacks/prod.yaml: services[name=web].deregistrationDelaySeconds",
    }


def test_an_undeclared_change_on_a_critical_path_fails_even_above_the_minimum(
    project: StackSources, cli: Callable[..., CliResult]
) -> None:
    staging = project.overlay("staging")
    staging.write_text(
        staging.read_text() + "\nservices:\n  - name: api\n    healthCheck:\n      path: /ready\n"
    )
    assert cli("stacks", "render", project=project).code == 0
    result = cli("parity", "--format", "json", project=project)
    assert result.code == 1
    report = json.loads(result.out)
    assert report["score"] >= 90
    assert "critical path api-live-tg.healthCheck.path is undeclared" in report["failures"]
    diff = next(d for d in report["differences"] if d["path"] == "api-live-tg.healthCheck.path")
    assert diff["values"] == {"dev": "/healthz", "staging": "/ready", "prod": "/healthz"}
    assert diff["source"]["staging"] == "stacks/staging.yaml: services[name=api].healthCheck.path"
    assert result.err.startswith("shipyard: parity check failed: critical path api-idle-tg")


def test_below_the_minimum_score_fails_with_the_reason(
    cli: Callable[..., CliResult], repo_sources: StackSources
) -> None:
    result = cli("parity", "dev", "prod", "--min-score", "100.5", project=repo_sources)
    assert result.code == 2
    assert "--min-score must be 0..100" in result.err
    strict = cli("parity", "dev", "prod", "--format", "json", project=repo_sources)
    assert strict.code == 0
    assert json.loads(strict.out)["environments"] == ["dev", "prod"]


def test_a_hand_edited_stack_file_is_an_undeclared_critical_difference(
    project: StackSources, cli: Callable[..., CliResult]
) -> None:
    prod = project.pulumi_stack_file("prod")
    prod.write_text(prod.read_text().replace("http5xxCount: 5", "http5xxCount: 50"))
    result = cli("parity", "--format", "json", project=project)
    assert result.code == 1
    report = json.loads(result.out)
    diff = next(d for d in report["differences"] if d["path"] == "stack-file:Pulumi.prod.yaml")
    assert diff["classification"] == "undeclared"
    assert diff["critical"] is True
    assert diff["values"]["prod"] == "first differing key: config.shipyard:alarms.http5xxCount"
    assert diff["values"]["dev"] == "generated from stacks/"
    # The edit also shows in the rendered resources, breaking the declared 5xx rule.
    alarm = next(d for d in report["differences"] if d["path"] == "web-alarms-live-5xx.threshold")
    assert alarm["classification"] == "undeclared"
    assert alarm["reason"].startswith("rule broken (expected")


def test_pulumi_stack_settings_are_not_stack_file_drift(
    project: StackSources, cli: Callable[..., CliResult]
) -> None:
    # Pulumi's own top-level settings (https://www.pulumi.com/docs/iac/concepts/projects/
    # stack-settings-file/) are not what shipyard writes: prod holding them is not drift.
    prod = project.pulumi_stack_file("prod")
    prod.write_text(
        prod.read_text().replace("config:\n", "secretsprovider: awskms://alias/x\nconfig:\n", 1)
    )
    result = cli("parity", "--format", "json", project=project)
    assert result.code == 0, result
    paths = [d["path"] for d in json.loads(result.out)["differences"]]
    assert not any(path.startswith("stack-file:") for path in paths)


def test_expired_and_stale_rules_are_reported(
    project: StackSources, cli: Callable[..., CliResult]
) -> None:
    policy = project.stacks_dir / "parity.yaml"
    policy.write_text(
        policy.read_text()
        + '  - path: "gone-*.x"\n    any: true\n    reason: old\n    owner: nobody\n'
    )
    result = cli("parity", "--format", "json", "--today", "2027-04-01", project=project)
    report = json.loads(result.out)
    states = {r["path"]: r["state"] for r in report["rules"]}
    assert states["gone-*.x"] == "stale"
    assert states["*[name=LOG_LEVEL].value"] == "expired"
    log = [d for d in report["differences"] if d["path"].endswith("[name=LOG_LEVEL].value")]
    assert {d["classification"] for d in log} == {"undeclared"}
    assert log[0]["reason"].startswith("rule expired on 2027-03-31")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "rules:\n  - path: x\n    any: true\n    reason: r\n    ownr: o\n",
            "stacks/parity.yaml: rules[0].ownr: unknown key 'ownr'; did you mean 'owner'?",
        ),
        (
            "rules:\n  - path: x\n    any: true\n    oneOf: [1]\n    reason: r\n    owner: o\n",
            "stacks/parity.yaml: rules[0]: give exactly one relation",
        ),
        (
            "rules:\n  - path: x\n    any: true\n    owner: o\n",
            "stacks/parity.yaml: rules[0].reason: is required (a string)",
        ),
        ("minScore: 120\n", "stacks/parity.yaml: minScore: must be less than or equal to 100"),
        (
            "rules:\n  - path: x\n    any: true\n    reason: r\n    owner: o\n    expires: soon\n",
            "stacks/parity.yaml: rules[0].expires:",
        ),
        ("rules: [\n", "stacks/parity.yaml: line"),
        (
            "rules:\n  - path: x\n    any: true\n    reason: r\n    owner: o\n"
            "    expires: 2027-02-30\n",
            "stacks/parity.yaml: line 6: '2027-02-30' is not a valid date (day is out of range "
            "for month); correct it, or quote it if it is text",
        ),
        (
            "rules:\n  - path: x\n    ratio: {dev: 0}\n    reason: r\n    owner: o\n",
            "stacks/parity.yaml: rules[0].ratio.dev: must be greater than 0",
        ),
        (
            "rules:\n  - path: x\n    ratio: {stagign: 1, prod: 2}\n    reason: r\n    owner: o\n",
            "stacks/parity.yaml: rules[0].ratio names 'stagign', which is not an environment "
            "(environments: dev, staging, prod); fix the name",
        ),
        (
            "rules:\n  - path: x\n    any: true\n    reason: r\n    owner: o\n"
            "  - path: y\n    values: {dev: 1, prdo: 2}\n    reason: r\n    owner: o\n",
            "stacks/parity.yaml: rules[1].values names 'prdo', which is not an environment "
            "(environments: dev, staging, prod); fix the name",
        ),
        (
            "rules:\n  - path: x\n    ratio: {prod: 2}\n    reason: r\n    owner: o\n",
            "stacks/parity.yaml: rules[0].ratio: a ratio relates two or more environments (got "
            "prod); name each with its factor, e.g. {staging: 1, prod: 2}",
        ),
        ("minScore: true\n", "stacks/parity.yaml: minScore: must be a valid number (got True)"),
        (
            "rules:\n  - path: x\n    ratio: {staging: true, prod: 2}\n    reason: r\n"
            "    owner: o\n",
            "stacks/parity.yaml: rules[0].ratio.staging: must be a valid number (got True)",
        ),
        (
            "crossEnvironment:\n  - path: x\n    environment: prod\n    references: [stagin]\n"
            "    reason: r\n    owner: o\n",
            "stacks/parity.yaml: crossEnvironment[0] names 'stagin', which is not an environment",
        ),
        (
            "crossEnvironment:\n  - path: x\n    environment: prod\n    references: []\n"
            "    reason: r\n    owner: o\n",
            "stacks/parity.yaml: crossEnvironment[0]: references must name at least one",
        ),
        (
            "crossEnvironment:\n  - path: x\n    environment: prod\n    references: [prod]\n"
            "    reason: r\n    owner: o\n",
            "stacks/parity.yaml: crossEnvironment[0]: prod references itself",
        ),
    ],
)
def test_malformed_parity_file_exits_2_naming_file_and_path(
    project: StackSources, cli: Callable[..., CliResult], content: str, message: str
) -> None:
    (project.stacks_dir / "parity.yaml").write_text(content)
    before = snapshot(project.root)
    result = cli("parity", project=project)
    assert result.code == 2
    assert result.err.startswith(f"shipyard: {message}"), result.err
    assert len(result.err.splitlines()) == 1
    assert snapshot(project.root) == before


@pytest.mark.parametrize(
    ("make", "what"),
    [
        (lambda path: path.mkdir(), "a directory"),
        (lambda path: path.symlink_to(path.with_name("gone.yaml")), "a link to nothing"),
    ],
    ids=["directory", "dangling-link"],
)
def test_a_parity_file_that_is_not_a_file_exits_2(
    project: StackSources,
    cli: Callable[..., CliResult],
    make: Callable[[Path], None],
    what: str,
) -> None:
    """Read as "no policy", it would drop every critical path and the minimum: refused."""
    policy = project.stacks_dir / "parity.yaml"
    policy.unlink()
    make(policy)
    before = snapshot(project.root)
    result = cli("parity", project=project)
    assert result.code == 2, result
    assert result.err == (
        f"shipyard: stacks/parity.yaml is {what}: parity reads its rules from that file; "
        "replace it with the YAML rules file (docs/parity.md), or remove it to compare without "
        "rules\n"
    )
    assert result.out == ""
    assert snapshot(project.root) == before


def test_unknown_environment_and_too_few_environments_exit_2(
    cli: Callable[..., CliResult], repo_sources: StackSources
) -> None:
    unknown = cli("parity", "dev", "qa", project=repo_sources)
    assert unknown.code == 2
    assert "unknown environment 'qa'" in unknown.err
    single = cli("parity", "prod", project=repo_sources)
    assert single.code == 2
    assert "two or more environments" in single.err


@pytest.mark.parametrize(
    ("envs", "message"),
    [
        (["prod", "prod"], "prod is named twice; name each environment once"),
        (["dev", "prod", "dev"], "dev is named twice; name each environment once"),
        (
            ["parity", "dev"],
            "'parity' is not an environment: stacks/parity.yaml holds the parity rules; name an "
            "environment (dev, staging, prod)",
        ),
    ],
)
def test_environments_named_twice_or_not_environments_exit_2(
    cli: Callable[..., CliResult], repo_sources: StackSources, envs: list[str], message: str
) -> None:
    result = cli("parity", *envs, project=repo_sources)
    assert result.code == 2, result
    assert result.err == f"shipyard: {message}\n"
    assert result.out == ""


def test_every_format_writes_to_a_file(
    cli: Callable[..., CliResult], repo_sources: StackSources, tmp_path: Path
) -> None:
    for name in RENDERERS:
        target = tmp_path / f"report.{name}"
        result = cli("parity", "--format", name, "--output", str(target), project=repo_sources)
        assert result.code == 0, (name, result)
        assert result.out == ""
        assert target.stat().st_size > 500
    suite = ET.parse(tmp_path / "report.junit").getroot()
    assert suite.tag == "testsuite"
    assert int(suite.get("tests", "0")) == len(suite.findall("testcase")) > 50
    assert suite.get("failures") == "0"
    markdown = (tmp_path / "report.markdown").read_text()
    assert markdown.startswith("## ✅ PASS: parity ")
    html = (tmp_path / "report.html").read_text()
    assert '<h1 id="verdict" class="pass">PASS: parity' in html
    assert '<span id="score" class="score">' in html


def test_junit_fails_exactly_the_resources_with_open_differences(
    project: StackSources, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    staging = project.overlay("staging")
    staging.write_text(staging.read_text() + "\nalarms:\n  evaluationPeriods: 5\n")
    assert cli("stacks", "render", project=project).code == 0
    result = cli("parity", "--format", "junit", project=project)
    # The alarms' config is critical (stacks/parity.yaml): the run fails, and the dashboard
    # shows the verdict and each resource that differs.
    assert result.code == 1
    report = json.loads(cli("parity", "--format", "json", project=project).out)
    differing = {d["resource"] for d in report["differences"] if d["classification"] != "declared"}
    suite = ET.fromstring(result.out)
    failed = {c.get("name", "") for c in suite.findall("testcase") if c.find("failure") is not None}
    assert failed == differing | {"verdict"}
    assert {"api", "web"} == {name.split("-alarms-")[0] for name in failed if "-alarms-" in name}
    assert "stack-config" in failed
    assert suite.get("failures") == str(len(failed))


def secret_stacks() -> dict[str, RenderedStack]:
    """Two stacks whose program puts a secret config value into a resource input and export."""
    stacks = {}
    for env, ciphertext in (("dev", "AAABAGRldi1jaXBoZXI="), ("prod", "AAABAHByb2QtY2lwaGVy")):
        config, secret_keys = flatten_for_engine(
            {"app:token": {"secure": ciphertext}, "app:plain": "hunter2-is-not-secret"}
        )

        def program() -> None:
            settings = pulumi.Config("app")
            aws.ssm.Parameter("token", type="SecureString", value=settings.require_secret("token"))
            pulumi.export("token", settings.require_secret("token"))

        stacks[env] = render_program(
            program, stack=env, config=config, secret_keys=secret_keys, region="us-east-1"
        )
    return stacks


def test_a_secret_never_appears_in_any_format(project: StackSources) -> None:
    dev = project.overlay("dev")
    dev.write_text(
        dev.read_text() + "\npulumiConfig:\n  app:token:\n    secure: AAABAGRldi1jaXBoZXI=\n"
    )
    from shipyard.stacks import plan_stack_files, write_stack_files

    write_stack_files(project, plan_stack_files(project))
    report = report_dict(
        run_parity(project, ParityOptions(environments=["dev", "prod"]), rendered=secret_stacks())
    )
    for name, render in RENDERERS.items():
        text = render(report, False)
        for secret in ("AAABAGRldi1jaXBoZXI=", "AAABAHByb2QtY2lwaGVy", "dev-cipher", "prod-cipher"):
            assert secret not in text, (name, secret)
    # The secret input itself compares by presence: equal in both environments.
    assert not any(d["path"] == "token.value" for d in report["differences"])


def test_text_report_keeps_bracketed_paths_and_sources(
    project: StackSources, cli: Callable[..., CliResult]
) -> None:
    dev = project.overlay("dev")
    dev.write_text(dev.read_text().replace("LOG_LEVEL: debug", "LOG_LEVEL: trace"))
    assert cli("stacks", "render", project=project).code == 0
    result = cli("parity", project=project)
    text = " ".join(result.out.split())
    # Paths are printed whole, one per line; the reasons and sources wrap in their column.
    lines = result.out.splitlines()
    assert any(
        "web-live-task.containerDefinitions[name=web].environment[name=LOG_LEVEL].value" in line
        for line in lines
    )
    assert "stacks/dev.yaml:" in text
    assert "services[name=web].environment.LOG_LEVEL" in text
    assert "rule broken" in text
