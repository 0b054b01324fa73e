"""`make demo-aws` end to end: `python -m aws_harness demo` in a copy of the project, against
the AWS harness, under load. Asserts what happened, never how long it took."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from shipyard.config.load import StackSources
from tests.conftest import REPO


def test_the_aws_demo_deploys_rolls_back_by_hand_and_rolls_back_the_faulty_v3(
    project: StackSources,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APP_", "AWS_"))}
    done = subprocess.run(
        [sys.executable, "-m", "aws_harness", "demo", "--project", str(project.root)]
        + ["--format", "json"],
        cwd=REPO,
        env={**env, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    run = json.loads(done.stdout)
    outcomes = {p["name"]: p["outcome"] for p in run["phases"]}
    assert outcomes == {
        "harness up dev": "up",
        "deploy v1": "succeeded",
        "deploy v2": "succeeded",
        "roll back to v1 by hand": "succeeded",
        "deploy v3 (30% 5xx)": "rolled-back",
    }
    faulty = run["phases"][-1]
    assert faulty["detail"].startswith("analysis: 5xx rate") or "alarm" in faulty["detail"]
    assert all(p["failed"] == 0 for p in run["phases"][:-1]), run["phases"]
    assert 0 < faulty["failed"] == run["total_failed"] < faulty["requests"]
    assert all(p["requests"] > 0 for p in run["phases"][1:]), run["phases"]
    assert run["automatic_rollback_seconds"] is not None
