"""The command line's contract: help that teaches, one-line usage errors, exit codes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from shipyard import __version__
from shipyard.config.load import StackSources
from shipyard.project import find_project
from tests.conftest import CliResult, snapshot


def test_version(cli: Callable[..., CliResult]) -> None:
    result = cli("--version")
    assert result.code == 0
    assert result.out.strip() == f"shipyard, version {__version__}"


@pytest.mark.parametrize(
    ("args", "teaches"),
    [
        ((), "shipyard stacks render"),
        (("stacks", "render"), "--check"),
        (("render",), "[secret]"),
        (("demo",), "--format"),
    ],
)
def test_help_explains_each_command(
    cli: Callable[..., CliResult], args: tuple[str, ...], teaches: str
) -> None:
    result = cli(*args, "--help")
    assert result.code == 0
    assert teaches in result.out


def test_bare_shipyard_prints_help_and_exits_2(cli: Callable[..., CliResult]) -> None:
    result = cli()
    assert result.code == 2
    assert "Commands:" in result.err


def test_usage_errors_are_one_line_with_a_pointer_to_help(
    cli: Callable[..., CliResult], repo_sources: StackSources
) -> None:
    missing = cli("render", project=repo_sources)
    assert missing.code == 2
    assert missing.err == "shipyard: Missing argument 'ENV'. (see `shipyard render --help`)\n"
    bad_choice = cli("render", "dev", "--format", "xml", project=repo_sources)
    assert bad_choice.code == 2
    assert len(bad_choice.err.splitlines()) == 1
    assert "'xml' is not one of 'json', 'yaml'" in bad_choice.err
    unknown = cli("deploy-everything")
    assert unknown.code == 2
    assert "No such command 'deploy-everything'" in unknown.err


@pytest.mark.parametrize(
    "command",
    [
        ["parity", "--format", "html"],
        ["render", "dev"],
        ["metrics", "--format", "json", "--from-pulumi-history", "{history}"],
    ],
)
def test_an_output_path_that_cannot_be_written_is_one_line(
    cli: Callable[..., CliResult], project: StackSources, tmp_path: Path, command: list[str]
) -> None:
    history = tmp_path / "history.json"
    history.write_text("[]")
    target = tmp_path / "missing" / "report.out"
    before = snapshot(tmp_path)
    args = [arg.format(history=history) for arg in command]
    result = cli(*args, "-o", str(target), project=project)
    assert result.code == 2, result
    assert result.err == (
        f"shipyard: cannot write {target}: No such file or directory; give --output a file in "
        "a directory that exists and that you can write to\n"
    )
    assert result.out == ""
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    "command",
    [
        ["parity", "--format", "json"],
        ["render", "dev"],
        ["metrics", "--format", "json", "--from-pulumi-history", "{history}"],
    ],
    ids=["parity", "render", "metrics"],
)
@pytest.mark.parametrize(
    "target",
    [
        "stacks/parity.yaml",
        "stacks/prod.yaml",
        "stacks/template.yaml.j2",
        "stacks/report.json",  # a new file there would be read as an environment or a source
        "Pulumi.yaml",
        "Pulumi.prod.yaml",
        "__main__.py",
        "{tmp}/link-to-policy.yaml",  # a link is followed
    ],
)
def test_an_output_path_never_overwrites_the_projects_inputs(
    cli: Callable[..., CliResult],
    project: StackSources,
    tmp_path: Path,
    command: list[str],
    target: str,
) -> None:
    history = tmp_path / "history.json"
    history.write_text("[]")
    (tmp_path / "link-to-policy.yaml").symlink_to(project.stacks_dir / "parity.yaml")
    output = target.format(tmp=tmp_path)
    if not output.startswith("/"):
        output = str(project.root / output)
    before = snapshot(tmp_path)
    args = [arg.format(history=history) for arg in command]
    result = cli(*args, "-o", output, project=project)
    assert result.code == 2, result
    shown = "stacks/parity.yaml" if target.startswith("{tmp}") else target
    assert result.err == (
        f"shipyard: will not write {output}: it is {shown}, one of the project's inputs "
        "(stacks/, Pulumi.yaml, Pulumi.<env>.yaml, __main__.py); give --output another file\n"
    )
    assert result.out == ""
    assert snapshot(tmp_path) == before


def test_parity_never_writes_its_report_over_its_policy(
    cli: Callable[..., CliResult], project: StackSources, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project.root)
    before = snapshot(project.root)
    result = cli("parity", "-o", "stacks/parity.yaml", project=project)
    assert result.code == 2, result
    assert result.err.startswith("shipyard: will not write stacks/parity.yaml: it is stacks/")
    assert snapshot(project.root) == before


def test_an_output_path_beside_the_projects_inputs_is_written(
    cli: Callable[..., CliResult], project: StackSources
) -> None:
    for name in ("parity.yaml", "Pulumi.prod.yaml.html", "stacks.json", "main.py"):
        result = cli("parity", "--format", "json", "-o", str(project.root / name), project=project)
        assert result.code == 0, (name, result)
        assert (project.root / name).read_text().startswith("{")


def test_outside_a_project_says_where_it_looked(
    cli: Callable[..., CliResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SHIPYARD_PROJECT_DIR", raising=False)
    result = cli("stacks", "render")
    assert result.code == 2
    assert result.err == (
        f"shipyard: no shipyard project at {tmp_path.resolve()} or above (looked for "
        "Pulumi.yaml and stacks/); cd into the project or pass --project-dir\n"
    )
    wrong = cli("--project-dir", str(tmp_path), "demo")
    assert wrong.code == 2
    assert "not a shipyard project" in wrong.err


def test_project_is_found_from_a_subdirectory(repo_sources: StackSources) -> None:
    found = find_project(start=repo_sources.root / "components")
    assert found.root == repo_sources.root


def test_demo_json_summarises_every_environment(
    cli: Callable[..., CliResult], repo_sources: StackSources
) -> None:
    result = cli("demo", "--no-local", "--format", "json", project=repo_sources)
    assert result.code == 0, result
    report = json.loads(result.out)
    assert [env["name"] for env in report["environments"]] == ["dev", "staging", "prod"]
    assert all(env["resources"] > 50 for env in report["environments"])
    rows = {(r["environment"], r["service"]): r for r in report["services"]}
    assert rows[("dev", "web")]["active_color"] == "green"
    assert rows[("dev", "web")]["weights"] == {"blue": 0, "green": 100}
    assert rows[("dev", "web")]["test_listener_color"] == "blue"
    assert rows[("dev", "web")]["versions"] == {"blue": "v1", "green": "v2"}
    assert rows[("prod", "web")]["desired_counts"] == {"blue": 4, "green": 0}
    assert rows[("prod", "web")]["protocol"] == "HTTPS"
    assert "rendered prod:" in result.err


def test_demo_text_is_a_table(cli: Callable[..., CliResult], repo_sources: StackSources) -> None:
    result = cli("demo", "--no-local", project=repo_sources)
    assert result.code == 0
    lines = [line for line in result.out.splitlines() if "│ prod" in line]
    assert len(lines) == 2
    assert "no Pulumi CLI and no cloud account used" in result.out


def test_aws_only_flags_on_the_local_platform_are_refused_before_anything_changes(
    cli: Callable[..., CliResult], project: StackSources, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = snapshot(project.root)
    result = cli("deploy", "dev", "--version", "v9", "--service", "web",
                 "--stack-outputs", "dev.json", "--endpoint-url", "http://127.0.0.1:9",
                 project=project)  # fmt: skip
    assert (result.code, result.err) == (
        2,
        "shipyard: --endpoint-url and --stack-outputs apply to --platform aws only: add "
        "--platform aws, or drop them\n",
    )
    assert snapshot(project.root) == files
    # From the environment (an S3 ledger's emulator, say) they are not a mistake: the local
    # deploy goes ahead as far as its own checks (here, a bad version tag).
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    result = cli("deploy", "dev", "--version", "bad tag", "--service", "web", project=project)
    assert result.code == 2 and "is not an image tag" in result.err, result
