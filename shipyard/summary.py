"""What a rendered stack deploys, per service: colors, weights, versions, task counts."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from parity.render import RenderedStack
from shipyard.config.model import traffic_shares

SERVICE_TYPE = "shipyard:service:BlueGreenService"
LISTENER_TYPE = "aws:lb/listener:Listener"
ECS_SERVICE_TYPE = "aws:ecs/service:Service"
COLORS = ("blue", "green")


@dataclass(frozen=True)
class ServiceSummary:
    environment: str
    service: str
    active_color: str
    weights: dict[str, int]
    versions: dict[str, str]
    desired_counts: dict[str, int]
    test_listener_color: str
    protocol: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(stack: RenderedStack) -> list[ServiceSummary]:
    """Read the summary off the rendered resources themselves, not off the config."""
    outputs = stack.outputs.get("services", {})
    summaries = []
    for component in sorted(stack.of_type(SERVICE_TYPE), key=lambda r: r["name"]):
        name = component["name"]
        production = stack.find(LISTENER_TYPE, f"{name}-production")["inputs"]
        test = stack.find(LISTENER_TYPE, f"{name}-test")["inputs"]
        arns = outputs.get(name, {}).get("targetGroupArns", {})
        color_of = {arn: color for color, arn in arns.items()}
        forward = production["defaultActions"][0]["forward"]["targetGroups"]
        raw = {color_of.get(tg["arn"], "?"): int(tg.get("weight", 0)) for tg in forward}
        weights = traffic_shares({c: raw.get(c, 0) for c in COLORS})
        counts, versions = {}, {}
        for color in COLORS:
            ecs = stack.find(ECS_SERVICE_TYPE, f"{name}-{color}-service")["inputs"]
            counts[color] = int(ecs.get("desiredCount", 0))
            versions[color] = outputs.get(name, {}).get("versions", {}).get(color, "?")
        summaries.append(
            ServiceSummary(
                environment=stack.stack,
                service=name,
                active_color=outputs.get(name, {}).get("activeColor", "?"),
                weights=weights,
                versions=versions,
                desired_counts=counts,
                test_listener_color=color_of.get(
                    test["defaultActions"][0].get("targetGroupArn", ""), "?"
                ),
                protocol=production["protocol"],
            )
        )
    return summaries
