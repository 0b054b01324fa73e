"""`shipyard render ENV`: the resource graph under mocks, stable, with secrets masked."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pulumi
import pulumi_aws as aws
import yaml

from parity.render import SECRET, RenderedStack, render_program, render_stack
from shipyard.config.load import StackSources
from shipyard.config.pulumi_config import flatten_for_engine
from tests.conftest import CliResult


def test_json_shape_and_order(cli: Callable[..., CliResult], repo_sources: StackSources) -> None:
    result = cli("render", "staging", project=repo_sources)
    assert result.code == 0, result
    doc = json.loads(result.out)
    assert set(doc) == {"project", "stack", "resources", "outputs"}
    assert (doc["project"], doc["stack"]) == ("shipyard", "staging")
    keys = [(r["type"], r["name"]) for r in doc["resources"]]
    assert keys == sorted(keys)
    assert len(keys) == len(set(keys))
    assert all(set(r) == {"type", "name", "parent", "inputs"} for r in doc["resources"])
    assert doc["outputs"]["services"]["web"]["activeColor"] == "blue"


def test_output_is_byte_identical_across_runs(
    cli: Callable[..., CliResult], repo_sources: StackSources
) -> None:
    first = cli("render", "prod", project=repo_sources)
    second = cli("render", "prod", project=repo_sources)
    assert first.code == second.code == 0
    assert first.out == second.out
    assert len(first.out) > 10_000


def test_renders_of_different_stacks_do_not_leak_into_each_other(
    repo_sources: StackSources, rendered: dict[str, RenderedStack]
) -> None:
    again = render_stack(repo_sources, "dev")
    assert again.to_json() == rendered["dev"].to_json()
    text = json.dumps(again.resources)
    assert '"prod"' not in text and "shipyard-prod" not in text and "10.30." not in text


def test_yaml_format_and_output_file(
    cli: Callable[..., CliResult], repo_sources: StackSources, tmp_path: Path
) -> None:
    target = tmp_path / "dev.yaml"
    result = cli("render", "dev", "--format", "yaml", "--output", str(target), project=repo_sources)
    assert result.code == 0
    assert result.out == ""
    doc = yaml.safe_load(target.read_text())
    assert doc["stack"] == "dev"
    assert any(r["type"] == "aws:lb/listener:Listener" for r in doc["resources"])


def test_secret_inputs_and_outputs_are_masked() -> None:
    ciphertext = "AAABAGZha2UtY2lwaGVydGV4dA=="
    config, secret_keys = flatten_for_engine(
        {"app:token": {"secure": ciphertext}, "app:name": "demo", "app:ports": [80, 443]}
    )
    assert config == {"app:token": SECRET, "app:name": "demo", "app:ports": "[80, 443]"}
    assert secret_keys == ["app:token"]

    def program() -> None:
        settings = pulumi.Config("app")
        token = settings.require_secret("token")
        aws.ssm.Parameter("token", type="SecureString", value=token, description="plain")
        pulumi.export("token", token)
        pulumi.export("name", settings.require("name"))

    stack = render_program(
        program, stack="dev", config=config, secret_keys=secret_keys, region="eu-west-1"
    )
    parameter = stack.find("aws:ssm/parameter:Parameter", "token")["inputs"]
    assert parameter["value"] == SECRET
    assert parameter["description"] == "plain"
    assert stack.outputs == {"name": "demo", "token": SECRET}
    assert ciphertext not in stack.to_json()


def test_secure_values_in_a_stack_file_never_reach_the_render(
    project: StackSources, cli: Callable[..., CliResult]
) -> None:
    ciphertext = "AAABAGZha2UtY2lwaGVydGV4dC1kZXY="
    dev = project.overlay("dev")
    dev.write_text(dev.read_text() + f"\npulumiConfig:\n  app:token:\n    secure: {ciphertext}\n")
    assert cli("stacks", "render", project=project).code == 0
    result = cli("render", "dev", project=project)
    assert result.code == 0
    assert ciphertext not in result.out


def test_mocks_return_every_output_the_program_reads(rendered: dict[str, RenderedStack]) -> None:
    prod = rendered["prod"]
    inputs = json.dumps([r["inputs"] for r in prod.resources]) + json.dumps(prod.outputs)
    assert "null" not in inputs
    listener = prod.find("aws:lb/listener:Listener", "api-production")["inputs"]
    assert listener["loadBalancerArn"].startswith("arn:aws:elasticloadbalancing:us-east-1:")
    assert prod.outputs["services"]["api"]["albDnsName"].endswith(".us-east-1.elb.amazonaws.com")


def test_stale_stack_file_renders_with_a_warning(
    project: StackSources, cli: Callable[..., CliResult]
) -> None:
    overlay = project.overlay("dev")
    overlay.write_text(
        overlay.read_text().replace(
            "desiredCount: 1\n    environment", "desiredCount: 3\n    environment"
        )
    )
    result = cli("render", "dev", project=project)
    assert result.code == 0
    assert result.err.startswith("warning: Pulumi.dev.yaml is stale")
    doc = json.loads(result.out)
    web_green = next(r for r in doc["resources"] if r["name"] == "web-green-service")
    # Rendered as Pulumi would see it: from the stack file, not from stacks/.
    assert web_green["inputs"]["desiredCount"] == 1


def test_missing_stack_file_says_how_to_create_it(
    project: StackSources, cli: Callable[..., CliResult]
) -> None:
    project.pulumi_stack_file("staging").unlink()
    result = cli("render", "staging", project=project)
    assert result.code == 2
    assert "Pulumi.staging.yaml: not found; run `shipyard stacks render`" in result.err


def test_hand_edited_invalid_stack_file_is_one_line_naming_the_key(
    project: StackSources, cli: Callable[..., CliResult]
) -> None:
    prod = project.pulumi_stack_file("prod")
    prod.write_text(prod.read_text().replace("desiredCount: 4", "desiredCount: -4"))
    result = cli("render", "prod", project=project)
    assert result.code == 2
    assert result.err.startswith(
        "shipyard: Pulumi.prod.yaml: config.shipyard:services[0].desiredCount: must be greater "
        "than 0 (got -4); fix stacks/ and run `shipyard stacks render`"
    ), result.err
    assert result.out == ""


def test_stack_file_that_is_not_yaml_is_one_line(
    project: StackSources, cli: Callable[..., CliResult]
) -> None:
    project.pulumi_stack_file("dev").write_text("config: [unclosed\n")
    result = cli("render", "dev", project=project)
    assert result.code == 2
    assert result.err.startswith("shipyard: Pulumi.dev.yaml: line 2: invalid YAML")
