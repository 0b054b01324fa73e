"""Alarms: per service and color, the CloudWatch alarms the health analysis reads.

Each alarm watches one color's target group on its load balancer, so a failing new color raises
its own alarms and never the stable color's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.tags import tagged
from shipyard.config.model import Alarms as AlarmThresholds
from shipyard.config.model import Color

NAMESPACE = "AWS/ApplicationELB"


@dataclass(frozen=True)
class AlarmsArgs:
    environment: str
    service_name: str
    thresholds: AlarmThresholds
    load_balancer_arn_suffix: pulumi.Input[str]
    target_group_arn_suffixes: Mapping[Color, pulumi.Input[str]]
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AlarmSpec:
    """One kind of alarm: which metric, which statistic, compared how to which threshold."""

    suffix: str
    metric_name: str
    comparison: str
    threshold: float
    statistic: str | None = None
    extended_statistic: str | None = None
    missing_data: str = "notBreaching"


def alarm_specs(thresholds: AlarmThresholds) -> list[AlarmSpec]:
    return [
        AlarmSpec(
            suffix="5xx",
            metric_name="HTTPCode_Target_5XX_Count",
            comparison="GreaterThanOrEqualToThreshold",
            threshold=thresholds.http_5xx_count,
            statistic="Sum",
        ),
        AlarmSpec(
            suffix="unhealthy-hosts",
            metric_name="UnHealthyHostCount",
            comparison="GreaterThanOrEqualToThreshold",
            threshold=thresholds.unhealthy_hosts,
            statistic="Maximum",
        ),
        AlarmSpec(
            suffix="p99-latency",
            metric_name="TargetResponseTime",
            comparison="GreaterThanThreshold",
            threshold=thresholds.p99_latency_seconds,
            extended_statistic="p99",
        ),
    ]


class Alarms(pulumi.ComponentResource):
    """Three alarms per color: target 5xx count, unhealthy hosts, p99 response time."""

    def __init__(
        self, name: str, args: AlarmsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("shipyard:alarms:Alarms", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.alarms: dict[Color, dict[str, aws.cloudwatch.MetricAlarm]] = {}
        for color in Color:
            self.alarms[color] = {}
            for spec in alarm_specs(args.thresholds):
                logical = f"{name}-{color.value}-{spec.suffix}"
                self.alarms[color][spec.suffix] = aws.cloudwatch.MetricAlarm(
                    logical,
                    name=f"shipyard-{args.environment}-{args.service_name}-{color.value}-{spec.suffix}",
                    alarm_description=(
                        f"{args.service_name} {color.value}: {spec.metric_name} "
                        f"{spec.comparison} {spec.threshold}"
                    ),
                    namespace=NAMESPACE,
                    metric_name=spec.metric_name,
                    dimensions={
                        "LoadBalancer": args.load_balancer_arn_suffix,
                        "TargetGroup": args.target_group_arn_suffixes[color],
                    },
                    statistic=spec.statistic,
                    extended_statistic=spec.extended_statistic,
                    period=args.thresholds.period_seconds,
                    evaluation_periods=args.thresholds.evaluation_periods,
                    threshold=spec.threshold,
                    comparison_operator=spec.comparison,
                    treat_missing_data=spec.missing_data,
                    tags=tagged(args.tags, logical, service=args.service_name, color=color.value),
                    opts=child,
                )
        self.alarm_names = {
            color.value: {suffix: alarm.name for suffix, alarm in alarms.items()}
            for color, alarms in self.alarms.items()
        }
        self.register_outputs({"alarmNames": self.alarm_names})
