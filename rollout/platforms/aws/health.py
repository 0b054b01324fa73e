"""HealthSource on AWS: target health of a color's target group, its CloudWatch alarms, and
the target group's ALB metrics over an analysis window.

- servers: `DescribeTargetHealth` (healthy / initial / unhealthy / draining ...);
- alarms: the color's alarms (5xx, unhealthy hosts, p99 latency) now in ALARM;
- window: `RequestCount`, `HTTPCode_Target_5XX_Count` and `TargetConnectionErrorCount` summed,
  and `TargetResponseTime` p99, between the two snapshots. ALB metrics come in 60-second
  periods and arrive about a minute late: bakes on AWS should be 60 s or more.
- the load balancer's own 5xx (`HTTPCode_ELB_5XX_Count`: the 502, 503 and 504 the ALB answers
  when a target resets, is missing or times out, which no target's count includes) are
  reported per load balancer only, never per target group
  (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html):
  they count against every color that took requests in the window, so a release that breaks
  connections cannot pass analysis.

moto registers every target as healthy, never evaluates alarms and keeps no p99: tests pass
their own `target_health`, drive alarms with `set_alarm_state` and put metric data themselves.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
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
NAMESPACE = "AWS/ApplicationELB"
SUMS = {
    "requests": "RequestCount",
    "http_5xx": "HTTPCode_Target_5XX_Count",
    "errors": "TargetConnectionErrorCount",
}
PERIOD = 60
ELB_5XX_ID = "elb_http_5xx"
TargetHealth = Callable[[str], list[tuple[str, str]]]  # target group ARN -> (target, state)


def arn_suffix(arn: str, marker: str) -> str:
    """CloudWatch's dimension value: the part of the ARN from `targetgroup/` or `app/`."""
    return arn[arn.index(marker) :] if marker in arn else arn


class AwsHealth:
    def __init__(
        self,
        elbv2: Any,
        cloudwatch: Any,
        target_groups: Mapping[Color, str],
        alarms: Mapping[Color, list[str]],
        target_health: TargetHealth | None = None,
        load_balancer_arn: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.elbv2 = elbv2
        self.cloudwatch = cloudwatch
        self.target_groups = dict(target_groups)
        self.alarms = {color: list(names) for color, names in alarms.items()}
        self.target_health = target_health or self._described
        self.load_balancer = arn_suffix(load_balancer_arn, "app/")
        self.clock = clock

    def _described(self, target_group: str) -> list[tuple[str, str]]:
        found = self.elbv2.describe_target_health(TargetGroupArn=target_group)
        return [
            (d["Target"]["Id"], d["TargetHealth"]["State"])
            for d in found.get("TargetHealthDescriptions", [])
        ]

    def servers(self, color: Color) -> list[ServerHealth]:
        return [
            ServerHealth(name=target, color=color, state=STATES.get(state, ServerState.DOWN))
            for target, state in self.target_health(self.target_groups[color])
        ]

    def snapshot(self) -> dict[Color, ColorHealth]:
        names = [name for group in self.alarms.values() for name in group]
        firing = set()
        # DescribeAlarms takes at most 100 names and answers a page of at most MaxRecords (50 by
        # default) with a NextToken for the rest:
        # https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html
        pages = self.cloudwatch.get_paginator("describe_alarms")
        for start in range(0, len(names), 100):
            for found in pages.paginate(AlarmNames=names[start : start + 100], MaxRecords=100):
                firing |= {
                    a["AlarmName"] for a in found["MetricAlarms"] if a["StateValue"] == "ALARM"
                }
        now = self.clock()
        return {
            color: ColorHealth(
                color,
                self.servers(color),
                alarms=tuple(sorted(n for n in self.alarms.get(color, []) if n in firing)),
                at=now,
            )
            for color in self.target_groups
        }

    def over_window(
        self, before: dict[Color, ColorHealth], after: dict[Color, ColorHealth]
    ) -> dict[Color, ColorHealth]:
        """States and alarms as of `after`; counts and p99 from CloudWatch between the two."""
        started = min((h.at for h in before.values() if h.at), default=0.0)
        ended = max((h.at for h in after.values()), default=self.clock())
        if not started:
            return after
        start = dt.datetime.fromtimestamp(started - started % PERIOD, dt.UTC)
        end = dt.datetime.fromtimestamp(max(ended, started + PERIOD), dt.UTC)
        sums = self._sums(start, end)
        return {
            color: replace(
                health,
                requests=sums.get((color, "requests"), 0),
                http_5xx=sums.get((color, "http_5xx"), 0),
                errors=sums.get((color, "errors"), 0),
                response_ms=self._p99_ms(color, start, end),
            )
            for color, health in after.items()
        }

    def _dimensions(self, color: Color) -> list[dict[str, str]]:
        dimensions = [
            {"Name": "TargetGroup", "Value": arn_suffix(self.target_groups[color], "targetgroup/")}
        ]
        if self.load_balancer:
            dimensions.append({"Name": "LoadBalancer", "Value": self.load_balancer})
        return dimensions

    def _sums(self, start: dt.datetime, end: dt.datetime) -> dict[tuple[Color, str], int]:
        """Every color's counters in one GetMetricData call."""
        queries = [
            {
                "Id": f"{color.value}_{field}",
                "MetricStat": {
                    "Metric": {
                        "Namespace": NAMESPACE,
                        "MetricName": metric,
                        "Dimensions": self._dimensions(color),
                    },
                    "Period": PERIOD,
                    "Stat": "Sum",
                },
                "ReturnData": True,
            }
            for color in self.target_groups
            for field, metric in SUMS.items()
        ]
        if self.load_balancer:
            queries.append(
                {
                    "Id": ELB_5XX_ID,
                    "MetricStat": {
                        "Metric": {
                            "Namespace": NAMESPACE,
                            "MetricName": "HTTPCode_ELB_5XX_Count",
                            "Dimensions": [{"Name": "LoadBalancer", "Value": self.load_balancer}],
                        },
                        "Period": PERIOD,
                        "Stat": "Sum",
                    },
                    "ReturnData": True,
                }
            )
        found = self.cloudwatch.get_metric_data(
            MetricDataQueries=queries, StartTime=start, EndTime=end
        )
        sums: dict[tuple[Color, str], int] = {}
        elb_5xx = 0
        for result in found["MetricDataResults"]:
            total = round(sum(result.get("Values", [])))
            if result["Id"] == ELB_5XX_ID:
                elb_5xx = total
                continue
            color, _, field = result["Id"].partition("_")
            sums[(Color(color), field)] = total
        for color in self.target_groups:
            if sums.get((color, "requests"), 0):
                sums[(color, "http_5xx")] = sums.get((color, "http_5xx"), 0) + elb_5xx
        return sums

    def _p99_ms(self, color: Color, start: dt.datetime, end: dt.datetime) -> int:
        found = self.cloudwatch.get_metric_statistics(
            Namespace=NAMESPACE,
            MetricName="TargetResponseTime",
            Dimensions=self._dimensions(color),
            StartTime=start,
            EndTime=end,
            Period=PERIOD,
            ExtendedStatistics=["p99"],
        )
        p99s = [
            point["ExtendedStatistics"]["p99"]
            for point in found.get("Datapoints", [])
            if "p99" in point.get("ExtendedStatistics", {})
        ]
        return round(1000 * max(p99s)) if p99s else 0
