"""TrafficRouter on an ALB: the production listener's forward weights between the blue and
green target groups (ELBv2 weights 0..999), and the test listener's single target."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shipyard.config.model import Color

ELB_MAX_WEIGHT = 999


def to_elb(percent: int) -> int:
    return round(percent * ELB_MAX_WEIGHT / 100)


class ElbRouter:
    """Production traffic: a weighted forward action, read back after every change."""

    def __init__(self, elbv2: Any, listener_arn: str, target_groups: Mapping[Color, str]) -> None:
        self.elbv2 = elbv2
        self.listener_arn = listener_arn
        self.target_groups = dict(target_groups)
        self._color_of = {arn: color for color, arn in self.target_groups.items()}

    def _action(self) -> dict[str, Any]:
        listener = self.elbv2.describe_listeners(ListenerArns=[self.listener_arn])["Listeners"][0]
        return dict(listener["DefaultActions"][0])

    def weights(self) -> dict[Color, int]:
        action = self._action()
        groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
        if not groups and action.get("TargetGroupArn"):
            groups = [{"TargetGroupArn": action["TargetGroupArn"], "Weight": 1}]
        raw = {self._color_of.get(g["TargetGroupArn"]): int(g.get("Weight", 1)) for g in groups}
        total = sum(w for c, w in raw.items() if c is not None)
        if not total:
            return {color: 0 for color in Color}
        shares = {color: round(100 * raw.get(color, 0) / total) for color in Color}
        largest = max(shares, key=lambda c: shares[c])
        shares[largest] += 100 - sum(shares.values())
        return shares

    def set_weights(self, weights: dict[Color, int]) -> None:
        self.elbv2.modify_listener(
            ListenerArn=self.listener_arn,
            DefaultActions=[
                {
                    "Type": "forward",
                    "ForwardConfig": {
                        "TargetGroups": [
                            {
                                "TargetGroupArn": self.target_groups[color],
                                "Weight": to_elb(weights.get(color, 0)),
                            }
                            for color in Color
                        ],
                        "TargetGroupStickinessConfig": {"Enabled": False},
                    },
                }
            ],
        )

    def verify(self, weights: dict[Color, int]) -> bool:
        return self.weights() == {color: weights.get(color, 0) for color in Color}


class ElbTestRouter(ElbRouter):
    """The test listener: everything to one color (the one given the larger share)."""

    def set_weights(self, weights: dict[Color, int]) -> None:
        color = max(Color, key=lambda c: weights.get(c, 0))
        self.elbv2.modify_listener(
            ListenerArn=self.listener_arn,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": self.target_groups[color]}],
        )
