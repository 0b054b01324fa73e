"""After a `pulumi up` from an earlier commit: production traffic only on colors with tasks.

The program sets the listeners' actions and the services' task definition and desired count
only when it creates them (docs/aws.md, "Who owns what"), so an `up`
from any commit leaves them to shipyard. Except where the earlier program creates a listener
or a service anew (renamed, or replaced by a changed property): a new listener forwards where
that program says, and a new ECS service starts with no running tasks while the listener
already forwards to its target group. So after the `up`, shipyard reads each service's
production listener and the running task count of each color's ECS service; a color that
takes traffic with no running tasks loses all of it to a color that runs tasks (the stack
config's active color when it does). When no color runs tasks there is nothing safe to send
traffic to: that is a failure, named, and the runbook's "An earlier stack state went wrong"
says what to do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from rollout.platforms.aws.outputs import StackOutputs
from rollout.platforms.aws.router import ElbRouter
from shipyard.config.model import Color, Service
from shipyard.errors import CheckFailed

RUNBOOK = 'docs/runbook.md, "An earlier stack state went wrong"'


class TrafficGuard(Protocol):
    def settle(self, services: list[Service]) -> list[str]:
        """Move traffic off colors without tasks; one line per service it changed."""
        ...


def warm_target(
    service: str, active: Color, weights: Mapping[Color, int], running: Mapping[Color, int]
) -> Color | None:
    """The color to send all traffic to, or None when no color takes traffic without tasks."""
    cold = [c for c in Color if weights[c] > 0 and running[c] == 0]
    if not cold:
        return None
    warm = [c for c in Color if running[c] > 0]
    if not warm:
        raise CheckFailed(
            f"{service}: the production listener forwards to {', '.join(c.value for c in cold)} "
            f"and no color runs tasks after `pulumi up`: follow {RUNBOOK}"
        )
    return active if active in warm else warm[0]


class AwsTrafficGuard:
    """Reads listener weights (ELBv2) and running task counts (ECS); moves traffic with ELBv2."""

    def __init__(self, elbv2: Any, ecs: Any, outputs: StackOutputs) -> None:
        self.elbv2, self.ecs, self.outputs = elbv2, ecs, outputs

    def _running(self, cluster: str, services: Mapping[Color, str]) -> dict[Color, int]:
        found = self.ecs.describe_services(cluster=cluster, services=list(services.values()))
        by_arn = {s["serviceArn"]: s for s in found["services"]}
        by_name = {s["serviceName"]: s for s in found["services"]}
        counts = {}
        for color, name in services.items():
            live = by_arn.get(name) or by_name.get(name.rsplit("/", 1)[-1]) or {}
            active = live.get("status") == "ACTIVE"
            counts[color] = int(live.get("runningCount", 0)) if active else 0
        return counts

    def settle(self, services: list[Service]) -> list[str]:
        lines = []
        for service in services:
            out = self.outputs.service(service.name)
            router = ElbRouter(self.elbv2, out.production_listener, out.target_groups)
            weights = router.weights()
            running = self._running(out.cluster, out.ecs_services)
            target = warm_target(service.name, service.active_color, weights, running)
            if target is None:
                continue
            wanted = {c: 100 if c is target else 0 for c in Color}
            router.set_weights(wanted)
            if not router.verify(wanted):
                raise CheckFailed(
                    f"{service.name}: moved all traffic to {target.value} but the listener "
                    f"reads {router.weights()}: follow {RUNBOOK}"
                )
            cold = ", ".join(f"{c.value} {weights[c]}%" for c in Color if weights[c] > 0)
            lines.append(
                f"{service.name}: {cold} of production traffic went to colors without running "
                f"tasks after `pulumi up`: all of it moved to {target.value} "
                f"({running[target]} tasks)"
            )
        return lines


@dataclass
class FakeTrafficGuard:
    """Says what the test gives it; remembers which services it was asked about."""

    lines: list[str] = field(default_factory=list)
    error: str | None = None
    asked: list[list[str]] = field(default_factory=list)

    def settle(self, services: list[Service]) -> list[str]:
        self.asked.append([s.name for s in services])
        if self.error:
            raise CheckFailed(self.error)
        return list(self.lines)
