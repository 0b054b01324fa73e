"""Unfinished rollouts against fakes: a paused one (analysis inconclusive) and a failed one
(the load balancer gone) are undone by `rollback`, carried on by `resume`, and block a new
deploy, exactly like one whose process died."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from rollout.deploy import DeployOptions, deploy
from rollout.executor import Executor, Outcome
from rollout.fakes import FakeHealth, FakePlatform, FakeRouter
from rollout.ledger import SqliteLedger
from rollout.metrics import deploys_from
from rollout.plan import Release, build_plan
from rollout.rollback import resume, rollback
from rollout.state import RolloutState, live_services, rollouts_of, unfinished_rollout
from shipyard.config.load import StackSources, load_stack
from shipyard.config.model import Color
from shipyard.errors import CheckFailed
from shipyard.stacks import plan_stack_files, write_stack_files

BLUE, GREEN = Color.BLUE, Color.GREEN


@dataclass
class FlowingHealth(FakeHealth):
    """Every snapshot sees `per_snapshot` more requests, split by the router's weights."""

    router: FakeRouter | None = None
    per_snapshot: int = 0

    def snapshot(self) -> Any:
        if self.router is not None:
            for color in Color:
                self.record(color, self.per_snapshot * self.router.current[color] // 100)
        return super().snapshot()


@pytest.fixture
def dev(project: StackSources) -> StackSources:
    """dev without bakes: analysis needs 50 requests, and pauses when it has fewer."""
    overlay = project.overlay("dev")
    doc: dict[str, Any] = yaml.safe_load(overlay.read_text())
    doc["deploy"] = {"trafficSteps": [50, 100], "bakeSeconds": 0}
    overlay.write_text(yaml.safe_dump(doc))
    write_stack_files(project, plan_stack_files(project))
    return project


@pytest.fixture
def platform() -> FakePlatform:
    world = FakePlatform()
    world.health = FlowingHealth(fleet=world.fleet, router=world.router)
    return world


def run_rollout(
    sources: StackSources, platform: FakePlatform, ledger: SqliteLedger, version: str = "v3"
) -> Outcome:
    """A rollout of web on the fakes, without waiting between analysis windows."""
    policy = load_stack(sources, "dev").config.deploy
    plan = build_plan("dev", Release("web", version), policy, BLUE, "v1")
    target = platform.target(load_stack(sources, "dev").config.service("web"))
    return Executor(plan, target, ledger, sleep=lambda seconds: None).run()


def paused(sources: StackSources, platform: FakePlatform, ledger: SqliteLedger) -> Outcome:
    outcome = run_rollout(sources, platform, ledger)  # nobody uses the service: no requests
    assert outcome.status == "paused"
    assert platform.router.current == {BLUE: 50, GREEN: 50}
    return outcome


def test_rollback_undoes_a_paused_rollout_instead_of_promoting_it(
    dev: StackSources, platform: FakePlatform, tmp_path: Path
) -> None:
    ledger = SqliteLedger(tmp_path / "ledger.db")
    paused(dev, platform, ledger)

    outcome = rollback(dev, "dev", "web", ledger, platform=platform)

    assert outcome.status == "rolled-back" and outcome.ok
    assert outcome.message == "rolled back by hand after the rollout paused"
    assert platform.router.current == {BLUE: 100, GREEN: 0}  # traffic to the stable color
    assert platform.fleet.events[-1] == "stop green"  # the unchecked color stopped
    assert platform.live_color is BLUE
    [summary] = rollouts_of(ledger.events("dev"), lock_held=False)
    assert summary.state is RolloutState.ROLLED_BACK and summary.version == "v3"
    assert live_services(ledger.events("dev"))["web"].color is BLUE
    assert unfinished_rollout(ledger, "dev") is None


def test_resume_carries_a_paused_rollout_on_from_its_traffic_step(
    dev: StackSources, platform: FakePlatform, tmp_path: Path
) -> None:
    ledger = SqliteLedger(tmp_path / "ledger.db")
    paused(dev, platform, ledger)
    assert isinstance(platform.health, FlowingHealth)
    platform.health.per_snapshot = 1000  # users arrived

    outcome = resume(dev, "dev", ledger, platform=platform)

    assert outcome.status == "succeeded", outcome
    [counted] = deploys_from(ledger.events("dev"))  # metrics count its last outcome
    assert counted.status == "succeeded"
    assert platform.router.history[-2:] == [{BLUE: 50, GREEN: 50}, {BLUE: 0, GREEN: 100}]
    assert platform.fleet.events.count("start green v3") == 1  # not prepared again
    [summary] = rollouts_of(ledger.events("dev"), lock_held=False)
    assert summary.state is RolloutState.SUCCEEDED
    assert summary.message == "web@v3#unknown is live on green"


def test_a_paused_rollout_blocks_a_new_deploy_and_shows_as_paused(
    dev: StackSources, platform: FakePlatform, tmp_path: Path
) -> None:
    ledger = SqliteLedger(tmp_path / "ledger.db")
    paused(dev, platform, ledger)
    [summary] = rollouts_of(ledger.events("dev"), lock_held=False)
    assert summary.state is RolloutState.PAUSED and summary.state.unfinished

    with pytest.raises(CheckFailed, match=r"dev has a paused rollout of web@v3#unknown \(at "):
        deploy(dev, DeployOptions("dev", "v4", "web"), ledger, platform=platform)
    assert platform.router.current == {BLUE: 50, GREEN: 50}  # nothing moved
    with pytest.raises(CheckFailed, match="--service web"):
        rollback(dev, "dev", "api", ledger, platform=platform)  # another service's rollback
    assert platform.router.current == {BLUE: 50, GREEN: 50}


def test_a_load_balancer_gone_mid_rollout_fails_it_and_rollback_undoes_it(
    dev: StackSources, platform: FakePlatform, tmp_path: Path
) -> None:
    ledger = SqliteLedger(tmp_path / "ledger.db")
    assert isinstance(platform.health, FlowingHealth)
    platform.health.per_snapshot = 1000

    def gone_after_first_shift(seconds: float) -> None:
        platform.router.down = True

    policy = load_stack(dev, "dev").config.deploy
    plan = build_plan("dev", Release("web", "v3"), policy, BLUE, "v1")
    target = platform.target(load_stack(dev, "dev").config.service("web"))
    failed = Executor(plan, target, ledger, sleep=gone_after_first_shift).run()

    assert failed.status == "failed" and not failed.ok
    assert failed.message.startswith("platform: the load balancer is not answering; the ")
    assert "`shipyard rollback dev --service web`" in failed.message
    assert "stop green" not in platform.fleet.events  # never stopped under its traffic
    kinds = [e.kind for e in ledger.events("dev")]
    assert kinds[-3:] == ["rollback-started", "rollback-failed", "outcome"]
    stuck = unfinished_rollout(ledger, "dev")
    assert stuck is not None and stuck.state is RolloutState.FAILED
    with pytest.raises(CheckFailed, match="dev has a failed rollout of web@v3"):
        deploy(dev, DeployOptions("dev", "v4", "web"), ledger, platform=platform)

    platform.router.down = False  # the load balancer is back
    undone = rollback(dev, "dev", "web", ledger, platform=platform)
    assert undone.status == "rolled-back" and undone.ok
    assert platform.router.current == {BLUE: 100, GREEN: 0}
    assert platform.fleet.events[-1] == "stop green"


@pytest.mark.parametrize(
    ("succeeded", "live", "versions"),
    [(True, GREEN, {BLUE: "v1", GREEN: "v3"}), (False, BLUE, {BLUE: "v1", GREEN: None})],
)
def test_the_ledger_says_what_is_live_per_service(
    dev: StackSources,
    platform: FakePlatform,
    tmp_path: Path,
    succeeded: bool,
    live: Color,
    versions: dict[Color, str | None],
) -> None:
    ledger = SqliteLedger(tmp_path / "ledger.db")
    assert isinstance(platform.health, FlowingHealth)
    platform.health.per_snapshot = 1000 if succeeded else 0
    run_rollout(dev, platform, ledger)
    web = live_services(ledger.events("dev"))["web"]
    assert (web.color, web.versions) == (live, versions)
    assert live_services(ledger.events("dev"), platform="aws") == {}


def test_resume_prepares_again_when_the_new_color_lost_the_release(
    dev: StackSources, platform: FakePlatform, tmp_path: Path
) -> None:
    """After a restart of the platform (HAProxy died), the new color runs what the ledger
    says it ran before the rollout: resuming from the traffic step would send users to it."""
    ledger = SqliteLedger(tmp_path / "ledger.db")
    paused(dev, platform, ledger)
    platform.fleet.running[GREEN] = None  # restarted without the unchecked release
    platform.router.current = {BLUE: 100, GREEN: 0}
    assert isinstance(platform.health, FlowingHealth)
    platform.health.per_snapshot = 1000

    outcome = resume(dev, "dev", ledger, platform=platform)

    assert outcome.status == "succeeded", outcome
    assert platform.fleet.events.count("start green v3") == 2  # prepared again
    resumed = [e for e in ledger.events("dev") if e.kind in ("release", "resumed")]
    assert [e.kind for e in resumed] == ["release", "resumed"]
    assert resumed[1].data == {"at_step": 0}


def test_resume_of_another_services_rollout_is_refused(
    dev: StackSources, platform: FakePlatform, tmp_path: Path
) -> None:
    ledger = SqliteLedger(tmp_path / "ledger.db")
    paused(dev, platform, ledger)
    seen = len(ledger.events("dev"))
    with pytest.raises(CheckFailed, match=r"`shipyard deploy dev --resume --service web`"):
        resume(dev, "dev", ledger, platform=platform, service_name="api")
    assert platform.router.current == {BLUE: 50, GREEN: 50}  # web was not carried on
    assert len(ledger.events("dev")) == seen


def succeeded(sources: StackSources, platform: FakePlatform, ledger: SqliteLedger) -> None:
    assert isinstance(platform.health, FlowingHealth)
    platform.health.per_snapshot = 1000
    assert run_rollout(sources, platform, ledger).status == "succeeded"
    assert platform.router.current == {BLUE: 0, GREEN: 100}


FURTHER = r"; to go further back: `shipyard rollback dev --service web --to V`"


def test_rollback_twice_does_not_toggle_back_to_the_undone_version(
    dev: StackSources, platform: FakePlatform, tmp_path: Path
) -> None:
    ledger = SqliteLedger(tmp_path / "ledger.db")
    succeeded(dev, platform, ledger)
    assert rollback(dev, "dev", "web", ledger, platform=platform).status == "succeeded"
    assert platform.router.current == {BLUE: 100, GREEN: 0}  # v1 live again
    seen = len(ledger.events("dev"))

    again = r"nothing to roll back: web's last rollout \(v3\) was already rolled back"
    with pytest.raises(CheckFailed, match=again + FURTHER):
        rollback(dev, "dev", "web", ledger, platform=platform)
    assert platform.router.current == {BLUE: 100, GREEN: 0}
    assert len(ledger.events("dev")) == seen


def test_rollback_after_an_automatic_rollback_changes_nothing(
    dev: StackSources, platform: FakePlatform, tmp_path: Path
) -> None:
    ledger = SqliteLedger(tmp_path / "ledger.db")
    platform.smoke_passes = False
    assert run_rollout(dev, platform, ledger).status == "rolled-back"
    started = list(platform.fleet.events)

    already = r"nothing to roll back: web's last rollout \(v3\) was already rolled back"
    with pytest.raises(CheckFailed, match=already + FURTHER):
        rollback(dev, "dev", "web", ledger, platform=platform)
    assert platform.fleet.events == started  # no redeploy of anything older
    assert platform.router.current == {BLUE: 100, GREEN: 0}


def test_rollback_with_an_empty_ledger_changes_nothing_but_to_still_redeploys(
    dev: StackSources, platform: FakePlatform, tmp_path: Path
) -> None:
    ledger = SqliteLedger(tmp_path / "ledger.db")
    with pytest.raises(CheckFailed, match=r"web has no rollout in the dev ledger" + FURTHER):
        rollback(dev, "dev", "web", ledger, platform=platform)
    assert platform.router.current == {BLUE: 100, GREEN: 0}
    assert ledger.events("dev") == []
    assert isinstance(platform.health, FlowingHealth)
    platform.health.per_snapshot = 1000
    redeployed = rollback(dev, "dev", "web", ledger, to="v0", platform=platform)
    assert redeployed.status == "succeeded", redeployed


def test_a_rollout_killed_in_its_rollback_says_so_in_status(
    dev: StackSources, platform: FakePlatform, tmp_path: Path
) -> None:
    ledger = SqliteLedger(tmp_path / "ledger.db")
    paused(dev, platform, ledger)
    stuck = unfinished_rollout(ledger, "dev")
    assert stuck is not None
    # What a rollback killed after its first event leaves in the ledger.
    ledger.append("dev", "rollback-started", {"to": "blue"}, rollout=stuck.rollout)
    [summary] = rollouts_of(ledger.events("dev"), lock_held=False)
    assert summary.state is RolloutState.INTERRUPTED
    assert summary.message == (
        "its rollback started and did not finish: undo it with `shipyard rollback dev` "
        "(it cannot be resumed)"
    )


def test_a_scaled_down_color_stays_retired_in_what_the_ledger_says_is_live(
    dev: StackSources, platform: FakePlatform, tmp_path: Path
) -> None:
    ledger = SqliteLedger(tmp_path / "ledger.db")
    succeeded(dev, platform, ledger)
    assert live_services(ledger.events("dev"))["web"].retired is None
    ledger.append("dev", "scaled-down", {"service": "web", "color": "blue", "version": "v1"})
    assert live_services(ledger.events("dev"))["web"].retired is BLUE
    config = load_stack(dev, "dev").config
    back = build_plan("dev", Release("web", "v4"), config.deploy, GREEN, "v3")
    target = platform.target(config.service("web"))
    assert Executor(back, target, ledger, sleep=lambda seconds: None).run().ok
    assert live_services(ledger.events("dev"))["web"].retired is None  # live again on blue
