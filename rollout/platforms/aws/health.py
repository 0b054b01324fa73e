"""HealthSource on AWS: target health of a color's target group, and its CloudWatch alarms.

moto registers every target as healthy and never evaluates alarms: tests pass their own
`target_health` and drive alarms with `set_alarm_state`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from rollout.interfaces import ColorHealth, ServerHealth, ServerState
from shipyard.config.model import Color

STATES = {
    "healthy": ServerState.UP,
    "draining": ServerState.DRAINING,
    "unused": ServerState.STOPPED,
    "initial": ServerState.DOWN,
    "unhealthy": ServerState.DOWN,
    "unavailable": ServerState.DOWN,
}
TargetHealth = Callable[[str], list[tuple[str, str]]]  # target group ARN -> (target, state)


class AwsHealth:
    def __init__(
        self,
        elbv2: Any,
        cloudwatch: Any,
        target_groups: Mapping[Color, str],
        alarms: Mapping[Color, list[str]],
        target_health: TargetHealth | None = None,
    ) -> None:
        self.elbv2 = elbv2
        self.cloudwatch = cloudwatch
        self.target_groups = dict(target_groups)
        self.alarms = {color: list(names) for color, names in alarms.items()}
        self.target_health = target_health or self._described

    def _described(self, target_group: str) -> list[tuple[str, str]]:
        found = self.elbv2.describe_target_health(TargetGroupArn=target_group)
        return [
            (d["Target"]["Id"], d["TargetHealth"]["State"])
            for d in found.get("TargetHealthDescriptions", [])
        ]

    def snapshot(self) -> dict[Color, ColorHealth]:
        names = [name for group in self.alarms.values() for name in group]
        firing = set()
        if names:
            for start in range(0, len(names), 100):
                found = self.cloudwatch.describe_alarms(AlarmNames=names[start : start + 100])
                firing |= {
                    a["AlarmName"] for a in found["MetricAlarms"] if a["StateValue"] == "ALARM"
                }
        health = {}
        for color, target_group in self.target_groups.items():
            servers = [
                ServerHealth(name=target, color=color, state=STATES.get(state, ServerState.DOWN))
                for target, state in self.target_health(target_group)
            ]
            health[color] = ColorHealth(
                color,
                servers,
                alarms=tuple(sorted(n for n in self.alarms.get(color, []) if n in firing)),
            )
        return health

    def over_window(
        self, before: dict[Color, ColorHealth], after: dict[Color, ColorHealth]
    ) -> dict[Color, ColorHealth]:
        return after  # alarms already judge their own window
