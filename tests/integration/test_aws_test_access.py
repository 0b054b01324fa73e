"""`shipyard deploy --platform aws` when the deployer cannot reach the test listener: the
smoke step fails after one connect timeout (not 8 attempts x 3 checks of them), rolls back, and
names the setting in the environment's file. moto plays AWS; the test listener is a port on
127.0.0.1 that drops connects (tests/integration/silent.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shipyard.config.load import StackSources
from tests.conftest import CliResult
from tests.integration.silent import silent_port
from tests.integration.test_aws_deploy import World, deploy, make_world

pytestmark = pytest.mark.usefixtures("calls_within_policy")


@pytest.fixture
def dropped() -> Iterator[int]:
    with silent_port() as port:
        yield port


def test_a_test_listener_that_drops_the_deployer_fails_the_smoke_step_naming_the_setting(
    moto_url: str,
    project: StackSources,
    tmp_path: Path,
    dropped: int,
    cli: Callable[..., CliResult],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MOTO_ECS_SERVICE_RUNNING", "true")
    url = f"http://127.0.0.1:{dropped}"
    world: World = make_world(moto_url, project, lambda *a, **k: url, tmp_path, 0)

    result = deploy(cli, world)

    assert result.code == 1, result
    said = result.out + result.err
    assert f"cannot connect to 127.0.0.1:{dropped} within 5 s" in said
    assert "add the address this deployer runs from to network.testAccessCidrs in " in said
    assert "stacks/dev.yaml, then run `shipyard stacks render` and `pulumi up`" in said
    assert world.raw_weights() == {"blue": 0, "green": 999}  # production never moved
    failed = [e.data for e in world.ledger.events("dev") if e.kind == "check-failed"]
    assert [(f["check"], f["url"]) for f in failed] == [("smoke", url)]
    assert failed[0]["message"].startswith(f"ready: cannot connect to 127.0.0.1:{dropped} ")
