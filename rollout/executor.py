"""One executor: applies a plan's steps to a target, writing each to the ledger before the next.

A failed step (unhealthy, smoke, analysis) runs the plan's rollback steps: all traffic to the
stable color first, then the new color stops. A rollback that cannot finish (the router refuses,
the stable color has no healthy server) stops where it is, records `rollback-failed` and ends
the rollout `failed`: unfinished, for a person and `shipyard rollback ENV`, never resumed. The
rollout's state is never stored: it is derived from the ledger's events (rollout.state).
"""

from __future__ import annotations

import dataclasses
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from rollout.analysis import Verdict, analyse
from rollout.interfaces import (
    BackgroundTraffic,
    ColorHealth,
    Fleet,
    HealthSource,
    ServerState,
    TrafficRouter,
)
from rollout.ledger import Ledger
from rollout.plan import Plan, Step
from rollout.probe_run import ProbeRun
from rollout.state import rollback_began
from shipyard.config.model import Color, Deploy, ProbeTraffic, Service
from shipyard.errors import CheckFailed, PlatformError
from smoke import SmokeReport

MAX_EXTRA_WINDOWS = 3
HOLD_AT_STEP = "SHIPYARD_HOLD_AT_STEP"
HOLD_AFTER_STEP = "SHIPYARD_HOLD_AFTER_STEP"
HOLD_SECONDS = "SHIPYARD_HOLD_SECONDS"
# Told about every step: (index, step, "started" | "finished", the step's result figures).
StepListener = Callable[[int, Step, str, dict[str, Any]], None]
# The platform's probe toward its own production URL, at the plan's settings.
ProbeFactory = Callable[[ProbeTraffic], BackgroundTraffic]


@dataclass
class Target:
    """Everything the executor drives for one service on one platform."""

    router: TrafficRouter
    test_router: TrafficRouter
    fleet: Fleet
    health: HealthSource
    smoke: Callable[[str], SmokeReport]
    mark_active: Callable[[Color, dict[Color, str | None]], None]
    probe: ProbeFactory | None = None  # None: the platform has none (local: `local traffic`)


class Platform(Protocol):
    """Where a service runs: the local platform or AWS. Gives the executor its Target."""

    name: str

    def target(self, service: Service, *, start: bool = True) -> Target:
        """The service's router, fleet, health and smoke; `start` the environment if needed."""

    def live(self, service: Service, *, start: bool = True) -> Color:
        """The color production traffic is on."""

    def urls(self, service: Service) -> dict[str, str]:
        """Where the service answers: `production`, and `test` (the idle color)."""

    def preflight(self, service: Service, policy: Deploy) -> None:
        """Refuse (UsageError) a deploy this platform can never run, before the gate records
        or the webhook announces anything."""


@dataclass
class Outcome:
    status: str  # succeeded | rolled-back | paused | failed (could not roll back) | unchanged
    rollout: str
    message: str
    seconds: float
    figures: dict[str, Any] = field(default_factory=dict)
    undone: bool = False  # an interrupted rollout undone on purpose (`rollback`): a success

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"

    @property
    def ok(self) -> bool:
        """Traffic is where the command meant it to be: live, undone on purpose, or left
        alone because there was nothing to do (`unchanged`)."""
        return self.succeeded or self.undone or self.status == "unchanged"


class StepFailed(Exception):
    def __init__(self, check: str, message: str, figures: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.check = check
        self.figures = figures or {}


class Pause(Exception):
    """Analysis stayed inconclusive and the policy says a human decides."""


class Executor:
    def __init__(
        self,
        plan: Plan,
        target: Target,
        ledger: Ledger,
        *,
        actor: str = "shipyard",
        rollout: str | None = None,
        on_step: StepListener | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.plan = plan
        self.target = target
        self.ledger = ledger
        self.actor = actor
        self.resuming = rollout is not None  # a rollout the ledger already has
        self.rollout = rollout or uuid.uuid4().hex[:12]
        self.on_step = on_step or (lambda index, step, phase, result: None)
        self.sleep = sleep
        self._window_start: dict[Color, ColorHealth] | None = None
        self._probe = ProbeRun(None, self.record)

    def run(self, start_at: int = 0) -> Outcome:
        """Apply the plan from `start_at`. Probe traffic feeds the analysis: a plan that
        analyses (a deploy, not an instant rollback) gets it when its policy asks. It is built
        (the platform checks its URL) before anything is recorded, sends from the first shift
        until finalise, and is stopped on every way out: success, rollback, pause, an error,
        Ctrl-C. `abort` never builds it: an undo is never refused for a probe's sake."""
        settings = self.plan.policy.probe_traffic
        analyses = any(step.kind == "analyse" for step in self.plan.steps)
        if settings is not None and self.target.probe is not None and analyses:
            self._probe = ProbeRun(self.target.probe(settings), self.record)
        try:
            return self._run(start_at)
        finally:
            self._probe.end()

    def record(self, kind: str, data: dict[str, Any]) -> None:
        self.ledger.append(
            self.plan.environment, kind, data, rollout=self.rollout, actor=self.actor
        )

    def _run(self, start_at: int) -> Outcome:
        began = time.monotonic()
        plan = self.plan
        if not self.resuming:
            self.record("release", plan.to_dict())
        else:
            self._refuse_resume_after_failure()
            self.record("resumed", {"at_step": start_at})
        try:
            for index, step in enumerate(plan.steps):
                if index < start_at:
                    continue
                self.record("step-started", {"index": index, "step": step.to_dict()})
                self.on_step(index, step, "started", {})
                self._rehearsal_hold(HOLD_AT_STEP, index)
                result = self.apply_or_fail(step)
                self._rehearsal_hold(HOLD_AFTER_STEP, index)
                self.record("step-finished", {"index": index, "kind": step.kind, **result})
                self.on_step(index, step, "finished", result)
        except StepFailed as failure:
            self.record(
                "check-failed",
                {"check": failure.check, "message": str(failure), **failure.figures},
            )
            reason = f"{failure.check}: {failure}"
            stuck = self.roll_back()
            if stuck is not None:
                return self._outcome("failed", self._stuck(reason, stuck), began, failure.figures)
            return self._outcome("rolled-back", reason, began, failure.figures)
        except Pause as pause:
            return self._outcome("paused", str(pause), began)
        return self._outcome("succeeded", f"{plan.release.key} is live on {plan.new}", began)

    def _rehearsal_hold(self, variable: str, index: int) -> None:
        """Crash drills: with SHIPYARD_HOLD_AT_STEP=N, wait (SHIPYARD_HOLD_SECONDS, default
        60) once step N is in the ledger, before it acts; with SHIPYARD_HOLD_AFTER_STEP=N,
        once it has acted and before `step-finished`. A drill kills the process there."""
        hold = os.environ.get(variable)
        if hold is not None and hold.strip() == str(index):
            self.sleep(float(os.environ.get(HOLD_SECONDS, "60")))

    def abort(self, reason: str) -> Outcome:
        """Undo an unfinished rollout: traffic to the stable color, the new one stopped."""
        began = time.monotonic()
        stuck = self.roll_back()
        if stuck is not None:
            return self._outcome("failed", self._stuck("rollback", stuck), began)
        return dataclasses.replace(self._outcome("rolled-back", reason, began), undone=True)

    def roll_back(self) -> Exception | None:
        """Traffic to the stable color, then the new color stopped. When that cannot be done
        (HAProxy gone, the API refusing, a stable color with no healthy server), stop there,
        record `rollback-failed` and return why: stopping the new color before traffic has
        left it would drop requests, and all traffic on a dead color drops them all."""
        self._probe.never()  # stopped before traffic moves; the rollback's shift never starts it
        self.record("rollback-started", {"to": self.plan.stable.value})
        step = Step("check-stable", color=self.plan.stable)
        try:
            if self.plan.rollback:
                self._stable_can_serve()
            for step in self.plan.rollback:
                self.on_step(-1, step, "started", {})
                result = self.apply(step)
                self.on_step(-1, step, "finished", result)
        except (PlatformError, StepFailed) as error:
            check = error.check if isinstance(error, StepFailed) else "platform"
            self.record(
                "rollback-failed",
                {"step": step.describe(), "check": check, "message": str(error)},
            )
            return error
        self.record("rollback-finished", {"to": self.plan.stable.value})
        return None

    def _stable_can_serve(self) -> None:
        """Never send everything to a stable color none of whose servers is up."""
        stable = self.plan.stable
        servers = self.target.health.snapshot()[stable].servers
        if servers and not any(s.state is ServerState.UP for s in servers):
            raise StepFailed("health", f"{stable} (the stable color) has no healthy server")

    def _refuse_resume_after_failure(self) -> None:
        """A rollout that failed a check is undone, never carried on."""
        mine = self.ledger.events(self.plan.environment, rollout=self.rollout)
        if rollback_began(mine):
            env = self.plan.environment
            raise CheckFailed(
                f"the rollout of {self.plan.release.key} failed and its rollback did not "
                f"finish: undo it with `shipyard rollback {env}`, it cannot be resumed"
            )

    def _stuck(self, reason: str, error: Exception) -> str:
        why = "for the same reason" if str(error) in reason else f"({error})"
        return (
            f"{reason}; the rollback failed {why}: fix that, then `shipyard rollback "
            f"{self.plan.environment} --service {self.plan.release.service}` puts traffic back "
            f"on {self.plan.stable} and stops {self.plan.new} (locally it first restarts "
            "HAProxy as the ledger records the environment)"
        )

    def _outcome(
        self, status: str, message: str, began: float, figures: dict[str, Any] | None = None
    ) -> Outcome:
        seconds = round(time.monotonic() - began, 3)
        self._probe.end()  # the outcome is the rollout's last event
        self.record(
            "outcome", {"status": status, "message": message, "seconds": seconds, **(figures or {})}
        )
        return Outcome(status, self.rollout, message, seconds, figures or {})

    # -- steps -----------------------------------------------------------------------------

    def apply_or_fail(self, step: Step) -> dict[str, Any]:
        """A step; the platform refusing or failing a call is a failed check like any other."""
        try:
            return self.apply(step)
        except PlatformError as error:
            figures = {"action": error.action, "code": error.code}
            raise StepFailed("platform", str(error), figures) from error

    def apply(self, step: Step) -> dict[str, Any]:
        handler = getattr(self, "_" + step.kind.replace("-", "_"))
        result: dict[str, Any] = handler(step)
        return result

    def _prepare(self, step: Step) -> dict[str, Any]:
        assert step.color is not None and step.version is not None
        self.target.fleet.start(step.color, step.version)
        self._set(self.target.test_router, {step.color: 100, step.color.other: 0}, "test")
        return {"color": step.color.value, "version": step.version}

    def _await_healthy(self, step: Step) -> dict[str, Any]:
        assert step.color is not None
        began = time.monotonic()
        if not self.target.fleet.await_ready(step.color, step.seconds):
            raise StepFailed(
                "health",
                f"{step.color} never passed its health check within {step.seconds:g} s",
                {"waited_seconds": step.seconds},
            )
        return {"ready_seconds": round(time.monotonic() - began, 3)}

    def _smoke(self, step: Step) -> dict[str, Any]:
        assert step.version is not None
        report = self.target.smoke(step.version)
        if not report.passed:
            problems = [f"{r.name}: {p}" for r in report.failures for p in r.problems]
            raise StepFailed("smoke", "; ".join(problems), {"url": report.url})
        return {"checks": len(report.results), "url": report.url}

    def _shift(self, step: Step) -> dict[str, Any]:
        weights = step.weight_map()
        self._probe.begin()
        self._set(self.target.router, weights, "production")
        self._window_start = self.target.health.snapshot()
        return {"weights": {c.value: w for c, w in weights.items()}}

    def _bake(self, step: Step) -> dict[str, Any]:
        self.sleep(step.seconds)
        return {"seconds": step.seconds}

    def _analyse(self, step: Step) -> dict[str, Any]:
        assert step.color is not None
        before = self._window_start or self.target.health.snapshot()
        policy = self.plan.policy
        for extra in range(MAX_EXTRA_WINDOWS + 1):
            window = self.target.health.over_window(before, self.target.health.snapshot())
            verdict = analyse(window[step.color], policy.analysis)
            self.record(
                "check",
                {
                    "check": "analysis",
                    "color": step.color.value,
                    "extra_window": extra,
                    **verdict.to_dict(),
                },
            )
            if verdict.result == "pass":
                return verdict.to_dict()
            if verdict.result == "fail":
                raise StepFailed("analysis", verdict.reason, verdict.figures)
            if policy.analysis.on_inconclusive == "fail":
                raise StepFailed("analysis", f"inconclusive: {verdict.reason}", verdict.figures)
            if extra < MAX_EXTRA_WINDOWS:
                self.sleep(max(self.plan.policy.bake_seconds, 1))
        raise Pause(
            f"analysis inconclusive after {MAX_EXTRA_WINDOWS + 1} windows "
            f"({verdict.reason}); traffic stays as it is: resume with "
            f"`shipyard deploy {self.plan.environment} --resume` or undo with "
            f"`shipyard rollback {self.plan.environment}`"
        )

    def _finalise(self, step: Step) -> dict[str, Any]:
        assert step.color is not None
        old, new = step.color, step.color.other
        self._probe.end()
        self.target.mark_active(new, self.target.fleet.versions())
        self._set(self.target.test_router, {old: 100, new: 0}, "test")
        if step.seconds <= 0:
            self.target.fleet.drain_and_stop(old, timeout=30)
            return {"previous": old.value, "stopped": True}
        return {"previous": old.value, "warm_for_seconds": step.seconds}

    def _stop(self, step: Step) -> dict[str, Any]:
        assert step.color is not None
        self._set(self.target.test_router, {step.color.other: 100, step.color: 0}, "test")
        self.target.fleet.drain_and_stop(step.color, timeout=30)
        return {"stopped": step.color.value}

    def _set(self, router: TrafficRouter, weights: dict[Color, int], which: str) -> None:
        router.set_weights(weights)
        if not router.verify(weights):
            raise StepFailed(
                "router",
                f"{which} weights read back as {shares(router.weights())} after setting "
                f"{shares(weights)}",
            )
        self.record("weights-set", {"router": which, **{c.value: w for c, w in weights.items()}})


def shares(weights: dict[Color, int]) -> str:
    return " / ".join(f"{color} {weights.get(color, 0)}%" for color in Color)


__all__ = ["Executor", "Outcome", "StepFailed", "Target", "Verdict"]
