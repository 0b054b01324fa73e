"""The demo's rollout story on the local platform, as a library call.

In a scratch workspace (`.shipyard/demo/`, a copy of the project's stacks with a short bake
and a faulty v3), under continuous load on `web`: bring dev up; deploy v1; deploy v2; roll
back to v1 by hand; deploy v3, which answers 30% 5xx and is rolled back automatically. Every
phase is measured: duration, requests served and failed while it ran. `run_story` is the story
on any platform: `make demo-aws` runs it on the AWS harness (aws_harness.demo).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import yaml

from rollout.deploy import DeployOptions, deploy
from rollout.executor import Outcome
from rollout.ledger import SqliteLedger
from rollout.load import Load
from rollout.platforms.local.platform import local_down, local_up
from rollout.rollback import instant_rollback
from shipyard.config.load import StackSources
from shipyard.errors import UsageError
from shipyard.stacks import plan_stack_files, write_stack_files

# What the demo copies from the project: the Pulumi program and the sample service it runs.
NEEDS = ("__main__.py", "examples/app/server.py")
# The sample service's fault knobs (examples/app/server.py, class Knobs).
KNOBS = ("APP_FAIL_HEALTH", "APP_ERROR_RATE", "APP_LATENCY_MS", "APP_CRASH_AFTER", "APP_SLOW_START")
SERVICE = "web"
ENVIRONMENT = "dev"
DEMO_POLICY = {
    "trafficSteps": [10, 50, 100],
    "bakeSeconds": 2,
    "readyTimeoutSeconds": 20,
    "scaleDownDelaySeconds": 300,
    "analysis": {"minRequests": 20, "max5xxRate": 0.02, "onInconclusive": "fail"},
}


@dataclass
class Phase:
    name: str
    seconds: float
    requests: int
    failed: int
    outcome: str
    detail: str = ""


@dataclass
class DemoRun:
    workspace: str
    phases: list[Phase] = field(default_factory=list)
    instant_rollback_seconds: float | None = None
    automatic_rollback_seconds: float | None = None
    total_requests: int = 0
    total_failed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_demo_inputs(sources: StackSources, environ: Mapping[str, str]) -> None:
    """Refuse, before anything starts, what would make the demo fail or mislead."""
    missing = [name for name in NEEDS if not (sources.root / name).is_file()]
    if missing:
        raise UsageError(
            f"{sources.root} has no {' or '.join(missing)}: the demo runs the sample service "
            "from a checkout of shipyard; run it there, or copy examples/ and __main__.py here"
        )
    knobs = sorted(name for name in environ if name in KNOBS)
    if knobs:
        raise UsageError(
            f"{', '.join(knobs)} set in this shell never reach the sample service (the local "
            "platform passes no APP_* variable on): unset them; fault knobs go under a "
            'service\'s environment in stacks/<env>.yaml, e.g. APP_ERROR_RATE: "0.3@v3"'
        )


def demo_workspace(
    sources: StackSources,
    name: str = "demo",
    policy: Mapping[str, Any] = DEMO_POLICY,
    alarms: Mapping[str, Any] | None = None,
) -> StackSources:
    """A scratch copy of the project for the demo (`.shipyard/NAME/`, deploy policy `policy`,
    `alarms` merged over the environment's): the user's files are never touched."""
    root = sources.root / ".shipyard" / name
    if root.exists():
        local_down(StackSources(root), ENVIRONMENT)
        shutil.rmtree(root)
    root.mkdir(parents=True)
    shutil.copytree(sources.stacks_dir, root / "stacks")
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(sources.root / name, root / name)
    shutil.copytree(sources.root / "examples", root / "examples")
    workspace = StackSources(root)
    overlay = workspace.overlay(ENVIRONMENT)
    doc: dict[str, Any] = yaml.safe_load(overlay.read_text()) or {}
    doc["deploy"] = dict(policy)
    if alarms:
        doc["alarms"] = {**doc.get("alarms", {}), **alarms}
    services = [s for s in doc.get("services", []) if s.get("name") != SERVICE]
    services.append(
        {
            "name": SERVICE,
            "desiredCount": 2,
            "activeColor": "blue",
            "versions": {"blue": "v1", "green": "v1"},
            "environment": {"APP_ERROR_RATE": "0.3@v3"},
        }
    )
    doc["services"] = services
    overlay.write_text(yaml.safe_dump(doc, sort_keys=False))
    write_stack_files(workspace, plan_stack_files(workspace))
    return workspace


def run_demo(
    sources: StackSources,
    progress: Callable[[str], None],
    keep_running: bool = False,
    environ: Mapping[str, str] | None = None,
) -> tuple[DemoRun, StackSources]:
    """`environ` is the caller's environment (the shell's): checked for fault knobs."""
    check_demo_inputs(sources, {} if environ is None else environ)
    workspace = demo_workspace(sources)
    run = DemoRun(workspace=str(workspace.root))
    ledger = SqliteLedger(workspace.root / ".shipyard" / "ledger.db")
    began = time.monotonic()
    try:
        state = local_up(workspace, ENVIRONMENT).state
        run.phases.append(Phase("local up dev", round(time.monotonic() - began, 2), 0, 0, "up"))
        progress(f"dev is up on 127.0.0.1 ({run.phases[0].seconds:.2f} s)")
        web = state.service(SERVICE)

        def release(version: str) -> Outcome:
            options = DeployOptions(ENVIRONMENT, version, SERVICE, author="demo", actor="demo")
            return deploy(workspace, options, ledger)

        def rollback() -> Outcome:
            return instant_rollback(workspace, ENVIRONMENT, SERVICE, ledger, "demo")

        with Load(f"{web.url}/", threads=2, max_seconds=240) as load:
            load.wait_for(50)
            run_story(run, load, release, rollback, progress)
        run.total_requests = len(load.samples)
        run.total_failed = len(load.failed)
    finally:
        if not keep_running:
            local_down(workspace, ENVIRONMENT)
    return run, workspace


def run_story(
    run: DemoRun,
    load: Load,
    release: Callable[[str], Outcome],
    rollback: Callable[[], Outcome],
    progress: Callable[[str], None],
) -> None:
    """The story, on any platform, under `load` (on the service's production listener):
    deploy v1, v2; roll back by hand; deploy the faulty v3. Each phase lands in `run`."""

    def phase(name: str, action: Callable[[], Outcome]) -> Outcome:
        progress(f"{name}...")
        start = time.monotonic()
        outcome = action()
        end = time.monotonic()
        window = load.between(start, end)
        failed = sum(1 for s in window if s.status is None or s.status >= 500)
        run.phases.append(
            Phase(name, round(end - start, 2), len(window), failed, outcome.status, outcome.message)
        )
        progress(f"{name}: {outcome.status} in {end - start:.2f} s")
        return outcome

    phase("deploy v1", lambda: release("v1"))
    phase("deploy v2", lambda: release("v2"))
    back = phase("roll back to v1 by hand", rollback)
    run.instant_rollback_seconds = back.seconds
    bad_start = time.monotonic()
    phase("deploy v3 (30% 5xx)", lambda: release("v3"))
    load.wait_for(len(load.samples) + 100)
    bad = [s for s in load.between(bad_start, time.monotonic()) if s.version == "v3"]
    errors = [s for s in bad if s.status == 500]
    if errors:
        run.automatic_rollback_seconds = round(bad[-1].at - errors[0].at, 2)
