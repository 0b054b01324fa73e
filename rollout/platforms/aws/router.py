"""TrafficRouter on an ALB: the production listener's forward weights between the blue and
green target groups (ELBv2 weights 0..999), and the test listener's single target."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shipyard.config.model import Color, elb_weight, traffic_shares


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
        return traffic_shares({color: raw.get(color, 0) for color in Color})

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
                                "Weight": elb_weight(weights.get(color, 0)),
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
