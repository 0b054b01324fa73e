"""Plans are data: the exact plan for each environment's policy."""

from __future__ import annotations

import pytest

from rollout.plan import Release, Step, build_plan, shift
from shipyard.config.load import StackSources, load_stack
from shipyard.config.model import Color

BLUE, GREEN = Color.BLUE, Color.GREEN
RELEASE = Release("web", "v3", "abc123", "2026-11-28T10:00:00Z", "ada")


def plan_for(sources: StackSources, env: str, stable: Color = BLUE):  # type: ignore[no-untyped-def]
    policy = load_stack(sources, env).config.deploy
    return build_plan(env, RELEASE, policy, stable, "v2")


def test_dev_plan_is_exact(repo_sources: StackSources) -> None:
    plan = plan_for(repo_sources, "dev", stable=GREEN)
    assert plan.new is BLUE
    assert plan.steps == (
        Step("prepare", color=BLUE, version="v3"),
        Step("await-healthy", color=BLUE, seconds=60.0),  # readyTimeoutSeconds
        Step("smoke", color=BLUE, version="v3"),
        shift(GREEN, BLUE, 50),
        Step("bake", color=BLUE, seconds=120.0),
        Step("analyse", color=BLUE),
        shift(GREEN, BLUE, 100),
        Step("bake", color=BLUE, seconds=120.0),
        Step("analyse", color=BLUE),
        Step("finalise", color=GREEN, seconds=60.0),
    )
    assert plan.rollback == (
        Step("shift", weights=((GREEN, 100), (BLUE, 0))),
        Step("stop", color=BLUE),
    )


@pytest.mark.parametrize(
    ("env", "steps", "bake", "warm"),
    [("staging", [10, 50, 100], 120.0, 300.0), ("prod", [10, 50, 100], 300.0, 900.0)],
)
def test_staging_and_prod_plans(
    repo_sources: StackSources, env: str, steps: list[int], bake: float, warm: float
) -> None:
    plan = plan_for(repo_sources, env)
    assert plan.describe() == [
        "prepare green v3",
        "await-healthy 60 s (green)",
        "smoke green v3",
        *[
            line
            for percent in steps
            for line in (
                f"shift green {percent}% / blue {100 - percent}%",
                f"bake {bake:g} s (green)",
                "analyse green",
            )
        ],
        "finalise blue",
    ]
    assert plan.steps[-1].seconds == warm


def test_plans_are_immutable(repo_sources: StackSources) -> None:
    plan = plan_for(repo_sources, "prod")
    with pytest.raises(AttributeError):
        plan.steps[0].kind = "skip"  # type: ignore[misc]
    assert isinstance(plan.steps, tuple)
