"""A quiet environment is not a failed deploy: `stacks render` warns about deploy policies that
cannot work on AWS, readiness has per-platform defaults, and `deploy --platform aws` refuses a
readyTimeoutSeconds the target group's health checks can never meet."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from parity.drift import ECS_SERVICE
from parity.render import RenderedStack
from rollout.readiness import (
    AWS_MIN_BAKE,
    FARGATE_COLD_START_SECONDS,
    LOCAL_READY_TIMEOUT,
    aws_ready_timeout,
    ready_timeout,
)
from shipyard.config.load import StackSources, load_stack
from tests.conftest import CliResult, snapshot
from tests.unit.test_config_validation import edit_yaml

Cli = Callable[..., CliResult]


def set_deploy(project: StackSources, env: str, **deploy: Any) -> None:
    edit_yaml(project.overlay(env), lambda doc: doc.setdefault("deploy", {}).update(deploy))


def warnings_for(result: CliResult, env: str) -> list[str]:
    return [
        line for line in result.err.splitlines() if line.startswith(f"warning: stacks/{env}.yaml: ")
    ]


def test_a_bake_shorter_than_alb_metrics_take_is_a_warning_not_an_error(
    project: StackSources, cli: Cli
) -> None:
    # The committed stacks bake 120 s or more: no warning. A dev bake of 30 s warns.
    assert cli("stacks", "render", "--check", project=project).err.count("warning:") == 0
    set_deploy(project, "dev", bakeSeconds=30)
    result = cli("stacks", "render", project=project)
    assert result.code == 0, result
    # (its probe rate is now short of minRequests too: a warning of its own)
    (dev,) = [w for w in warnings_for(result, "dev") if "deploy.bakeSeconds" in w]
    assert "deploy.bakeSeconds is 30" in dev
    assert f"set {AWS_MIN_BAKE} or more if this environment deploys to AWS" in dev
    assert warnings_for(result, "prod") == []  # 300 s is plenty

    # --check warns too, and still says only whether the files are stale.
    checked = cli("stacks", "render", "--check", project=project)
    assert checked.code == 0, checked
    assert dev in warnings_for(checked, "dev")

    set_deploy(project, "dev", bakeSeconds=AWS_MIN_BAKE)
    assert warnings_for(cli("stacks", "render", project=project), "dev") == []


def test_warnings_are_listed_in_json(project: StackSources, cli: Cli) -> None:
    set_deploy(project, "dev", bakeSeconds=30)
    cli("stacks", "render", project=project)
    result = cli("stacks", "render", "--check", "--format", "json", project=project)
    assert result.code == 0, result
    warnings = json.loads(result.out)["warnings"]
    assert any(w.startswith("stacks/dev.yaml: deploy.bakeSeconds is 30") for w in warnings)


def test_probe_traffic_too_slow_for_min_requests_is_a_warning(
    project: StackSources, cli: Cli
) -> None:
    # prod: steps 10/50/100, bake 300, minRequests 50: 1/s x 300 s x 10% = 30 < 50.
    set_deploy(project, "prod", probeTraffic={"ratePerSecond": 1})
    (warning,) = warnings_for(cli("stacks", "render", project=project), "prod")
    assert "deploy.probeTraffic.ratePerSecond 1 sends about 30 requests" in warning
    assert "fewer than analysis.minRequests 50: raise ratePerSecond to 2 or more" in warning

    set_deploy(project, "prod", probeTraffic={"ratePerSecond": 2})
    assert warnings_for(cli("stacks", "render", project=project), "prod") == []

    set_deploy(project, "prod", probeTraffic={"ratePerSecond": 2, "maxSeconds": 600})
    (warning,) = warnings_for(cli("stacks", "render", project=project), "prod")
    assert "deploy.probeTraffic.maxSeconds 600 ends the probe before the last bake" in warning


def test_probe_traffic_beyond_its_bounds_or_with_a_url_exits_2(
    project: StackSources, cli: Cli
) -> None:
    before = snapshot(project.root)
    set_deploy(project, "prod", probeTraffic={"ratePerSecond": 500})
    result = cli("stacks", "render", project=project)
    assert result.code == 2 and "Traceback" not in result.err
    assert "deploy.probeTraffic.ratePerSecond" in result.err
    assert "less than or equal to 20" in result.err

    set_deploy(project, "prod", probeTraffic={"ratePerSecond": 1, "url": "http://example.com"})
    result = cli("stacks", "render", project=project)
    assert result.code == 2 and "deploy.probeTraffic.url" in result.err

    # A query, a fragment or a control character would make no URL at deploy time.
    for path in ("/status?probe=1", "/a#b", "/\x7f", "/a b"):
        set_deploy(project, "prod", probeTraffic={"ratePerSecond": 2, "path": path})
        result = cli("stacks", "render", project=project)
        assert result.code == 2 and "Traceback" not in result.err, (path, result)
        assert "deploy.probeTraffic.path" in result.err and "no query" in result.err
    assert {k: v for k, v in snapshot(project.root).items() if "stacks" not in k} == {
        k: v for k, v in before.items() if "stacks" not in k
    }


def test_ready_timeout_defaults_per_platform(repo_sources: StackSources) -> None:
    config = load_stack(repo_sources, "prod").config
    web = config.service("web")
    assert config.deploy.ready_timeout_seconds is None  # unset in every committed stack
    assert ready_timeout(config.deploy, web, "local") == LOCAL_READY_TIMEOUT
    # A cold start, then healthyThreshold 3 x intervalSeconds 10.
    assert ready_timeout(config.deploy, web, "aws") == FARGATE_COLD_START_SECONDS + 30
    set_to = config.deploy.model_copy(update={"ready_timeout_seconds": 400})
    assert ready_timeout(set_to, web, "aws") == ready_timeout(set_to, web, "local") == 400


def test_the_aws_ready_timeout_outlasts_the_ecs_grace_period(
    rendered: dict[str, RenderedStack], repo_sources: StackSources
) -> None:
    """ECS ignores the target group's verdict for healthCheckGracePeriodSeconds after a task
    starts; shipyard must wait at least that long before calling a color unready."""
    for env, stack in rendered.items():
        config = load_stack(repo_sources, env).config
        for resource in stack.of_type(ECS_SERVICE):
            service = config.service(resource["name"].split("-")[0])
            grace = resource["inputs"]["healthCheckGracePeriodSeconds"]
            assert grace < aws_ready_timeout(service.health_check), (env, resource["name"])


def test_a_ready_timeout_shorter_than_the_health_checks_is_refused_on_aws(
    project: StackSources, cli: Cli, tmp_path: Path
) -> None:
    # The template's checks: healthyThreshold 3 x intervalSeconds 10 + timeoutSeconds 5 = 35.
    set_deploy(project, "dev", readyTimeoutSeconds=20)
    rendered = cli("stacks", "render", project=project)
    assert rendered.code == 0, rendered  # the local platform checks every 300 ms: fine there
    ready = [w for w in warnings_for(rendered, "dev") if "readyTimeoutSeconds is 20" in w]
    assert ["web's target group" in w for w in ready] == [True, False]  # then api's
    assert all(w.endswith("(`deploy --platform aws` refuses it)") for w in ready)

    outputs = tmp_path / "outputs.json"
    outputs.write_text("{}")
    before = snapshot(project.root)
    result = cli(
        "deploy", "dev", "--service", "web", "--version", "v9", "--platform", "aws",
        "--stack-outputs", str(outputs), "--endpoint-url", "http://127.0.0.1:9",
        "--ledger", str(tmp_path / "ledger.db"),
        project=project,
    )  # fmt: skip
    assert result.code == 2, result
    assert "Traceback" not in result.err
    assert result.err.strip() == (
        "shipyard: stacks/dev.yaml: deploy.readyTimeoutSeconds is 20 but web's target group "
        "needs at least 35 s to call a new task healthy (healthCheck.healthyThreshold 3 x "
        "intervalSeconds 10 + timeoutSeconds 5), before Fargate's cold start: set 35 or more, "
        "or remove it for the AWS default (210 s for web, which also allows for the cold start)"
    )
    assert snapshot(project.root) == before

    # The fix the message names is one the check accepts: 35 s warns no more.
    set_deploy(project, "dev", readyTimeoutSeconds=35)
    rendered = cli("stacks", "render", project=project)
    assert not [w for w in warnings_for(rendered, "dev") if "readyTimeoutSeconds" in w]
