"""CloudWatch's side: the ALB's metrics from the requests HAProxy really served, and the alarms
evaluated on them.

HAProxy logs one line per request (`rollout.platforms.local.haproxy.ALB_LOG_FORMAT`). Every
`interval` seconds the harness reads the new lines and puts, per target group (dimensions
TargetGroup and LoadBalancer, as the ALB publishes them), `RequestCount`,
`HTTPCode_Target_5XX_Count`, `TargetConnectionErrorCount` and `TargetResponseTime` (count, sum,
minimum and maximum), and per load balancer `HTTPCode_ELB_5XX_Count` (a 5xx HAProxy answered
itself: no target, a refused or cut connection), plus `HealthyHostCount` and
`UnHealthyHostCount` from the target health it reports. Like the ALB, it publishes no request
metric for an interval without requests
(https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html).

Alarms are evaluated as CloudWatch does: the statistic over each of the last `EvaluationPeriods`
periods, `DatapointsToAlarm` of them breaching (default: all), missing periods per
`TreatMissingData`
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#alarm-evaluation),
with one difference: the period runs `speedup` times faster (60: a 60 s period is one second of
traffic), so an alarm fires within seconds in a test. The p99 is computed from every request's
own response time.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shipyard.config.model import Color

NAMESPACE = "AWS/ApplicationELB"
HISTORY_SECONDS = 600.0
COMPARE: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "GreaterThanThreshold": lambda v, t: v > t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}

Key = tuple[str, Color | None]  # (service, color); color None: the load balancer itself


@dataclass
class Sample:
    """One interval of one target group (or, color None, of the load balancer)."""

    at: float
    requests: int = 0
    http_5xx: int = 0
    elb_5xx: int = 0
    connection_errors: int = 0
    times: list[float] = field(default_factory=list)
    healthy: int | None = None
    unhealthy: int | None = None


def read_lines(path: Path, offset: int) -> tuple[list[str], int]:
    """Whole lines written to `path` since `offset`, and the offset after them."""
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            data = handle.read()
    except OSError:
        return [], offset
    end = data.rfind(b"\n") + 1
    return data[:end].decode("utf-8", errors="replace").splitlines(), offset + end


class Metrics:
    def __init__(
        self,
        log: Path,
        cloudwatch: Any,
        dimensions: Mapping[Key, list[dict[str, str]]],
        colors: Callable[[str, str], tuple[str, Color] | None],
        speedup: float = 60.0,
    ) -> None:
        self.log = log
        self.offset = log.stat().st_size if log.exists() else 0
        self.cloudwatch = cloudwatch
        self.dimensions = dict(dimensions)
        self.colors = colors  # (backend, server) -> (service, color)
        self.speedup = speedup
        self.history: dict[Key, deque[Sample]] = {key: deque() for key in self.dimensions}
        self.alarms: list[dict[str, Any]] = []
        self.keep = HISTORY_SECONDS  # seconds of samples kept: the longest alarm's window, twice

    def collect(self, health: Mapping[tuple[str, Color], tuple[int, int]]) -> dict[Key, Sample]:
        """This interval's samples from the new log lines; `health` gives each target group's
        (healthy, unhealthy) target counts."""
        now = time.time()
        lines, self.offset = read_lines(self.log, self.offset)
        samples = {key: Sample(now) for key in self.dimensions}
        for line in lines:
            parts = line.split()
            if len(parts) != 7 or parts[0] != "SHIPYARD":
                continue
            _, _, backend, server, status, response, ended = parts
            found = self.colors(backend, server)
            service = found[0] if found else backend.removesuffix("_test")
            failed = int(status) >= 500
            proxy = server == "<NOSRV>" or not ended.startswith("-")
            if failed and proxy and (service, None) in samples:
                samples[(service, None)].elb_5xx += 1
            if found is None or (found[0], found[1]) not in samples:
                continue
            sample = samples[found]
            sample.requests += 1
            sample.http_5xx += int(failed and not proxy)
            sample.connection_errors += int(ended.startswith("SC"))
            if int(response) >= 0:
                sample.times.append(int(response) / 1000)
        for (service, color), (healthy, unhealthy) in health.items():
            if (service, color) in samples:
                samples[(service, color)].healthy = healthy
                samples[(service, color)].unhealthy = unhealthy
        for key, sample in samples.items():
            history = self.history[key]
            history.append(sample)
            while history and history[0].at < now - self.keep:
                history.popleft()
        return samples

    def publish(self, samples: Mapping[Key, Sample]) -> None:
        data: list[dict[str, Any]] = []
        for key, sample in samples.items():
            when = dt.datetime.fromtimestamp(sample.at, dt.UTC)

            def put(
                name: str, value: float, unit: str = "Count", key: Key = key, when: Any = when
            ) -> None:
                data.append(
                    {
                        "MetricName": name,
                        "Dimensions": self.dimensions[key],
                        "Timestamp": when,
                        "Value": value,
                        "Unit": unit,
                    }
                )

            if key[1] is None:
                if sample.elb_5xx:
                    put("HTTPCode_ELB_5XX_Count", sample.elb_5xx)
                continue
            # The ALB reports the error counts only when they are not zero.
            if sample.requests:
                put("RequestCount", sample.requests)
            if sample.http_5xx:
                put("HTTPCode_Target_5XX_Count", sample.http_5xx)
            if sample.connection_errors:
                put("TargetConnectionErrorCount", sample.connection_errors)
            if sample.times:
                data.append(
                    {
                        "MetricName": "TargetResponseTime",
                        "Dimensions": self.dimensions[key],
                        "Timestamp": when,
                        "StatisticValues": {
                            "SampleCount": len(sample.times),
                            "Sum": sum(sample.times),
                            "Minimum": min(sample.times),
                            "Maximum": max(sample.times),
                        },
                        "Unit": "Seconds",
                    }
                )
            if sample.healthy is not None:
                put("HealthyHostCount", sample.healthy)
                put("UnHealthyHostCount", sample.unhealthy or 0)
        for start in range(0, len(data), 1000):  # PutMetricData takes at most 1,000 datums
            self.cloudwatch.put_metric_data(
                Namespace=NAMESPACE, MetricData=data[start : start + 1000]
            )

    # -- alarms ----------------------------------------------------------------------------

    def load_alarms(self) -> None:
        """The alarms as CloudWatch holds them now (created, changed or deleted since)."""
        pages = self.cloudwatch.get_paginator("describe_alarms")
        self.alarms = [a for page in pages.paginate() for a in page["MetricAlarms"]]
        longest = max(
            (a["Period"] * a["EvaluationPeriods"] / self.speedup for a in self.alarms), default=0
        )
        self.keep = max(HISTORY_SECONDS, 2 * longest)

    def evaluate(self) -> dict[str, str]:
        """Set every alarm's state from the traffic; the alarms whose state changed."""
        self.load_alarms()
        now = time.time()
        changed = {}
        for alarm in self.alarms:
            state = self._state(alarm, now)
            name = alarm["AlarmName"]
            if state is None or state == alarm["StateValue"]:
                continue
            try:
                self.cloudwatch.set_alarm_state(
                    AlarmName=name,
                    StateValue=state,
                    StateReason=f"the AWS harness evaluated {alarm['MetricName']} on served "
                    "traffic",
                )
            except self.cloudwatch.exceptions.ResourceNotFound:
                continue  # deleted meanwhile
            changed[name] = state
        return changed

    def _key(self, alarm: dict[str, Any]) -> Key | None:
        wanted = sorted((d["Name"], d["Value"]) for d in alarm.get("Dimensions", []))
        for key, dimensions in self.dimensions.items():
            if sorted((d["Name"], d["Value"]) for d in dimensions) == wanted:
                return key
        return None

    def _state(self, alarm: dict[str, Any], now: float) -> str | None:
        key = self._key(alarm)
        if alarm.get("Namespace") != NAMESPACE or key is None:
            return None
        period = alarm["Period"] / self.speedup
        periods = alarm["EvaluationPeriods"]
        needed = alarm.get("DatapointsToAlarm") or periods
        compare = COMPARE[alarm["ComparisonOperator"]]
        missing = alarm.get("TreatMissingData", "missing")
        breaching = evaluated = 0
        for i in range(periods):
            end = now - i * period
            samples = [s for s in self.history[key] if end - period <= s.at < end]
            value = statistic(alarm, samples)
            if value is None:
                if missing == "breaching":
                    breaching += 1
                    evaluated += 1
                elif missing == "notBreaching":
                    evaluated += 1
                continue
            evaluated += 1
            breaching += int(compare(value, float(alarm["Threshold"])))
        if breaching >= needed:
            return "ALARM"
        return "OK" if evaluated else None


def statistic(alarm: dict[str, Any], samples: list[Sample]) -> float | None:
    """The alarm's statistic of its metric over one period's samples; None when the ALB would
    have published no datapoint."""
    name = alarm["MetricName"]
    stat = alarm.get("Statistic") or alarm.get("ExtendedStatistic", "")
    if name in ("HealthyHostCount", "UnHealthyHostCount"):
        values = [
            float((s.healthy if name == "HealthyHostCount" else s.unhealthy) or 0)
            for s in samples
            if s.healthy is not None
        ]
    elif name == "TargetResponseTime":
        values = [t for s in samples for t in s.times]
    else:
        field_of = {
            "RequestCount": "requests",
            "HTTPCode_Target_5XX_Count": "http_5xx",
            "HTTPCode_ELB_5XX_Count": "elb_5xx",
            "TargetConnectionErrorCount": "connection_errors",
        }
        if name not in field_of:
            return None
        active = [s for s in samples if s.requests or s.elb_5xx]
        if not active:
            return None
        values = [float(getattr(s, field_of[name])) for s in active]
    if not values:
        return None
    if stat == "Sum":
        return sum(values)
    if stat == "Maximum":
        return max(values)
    if stat == "Minimum":
        return min(values)
    if stat == "Average":
        return sum(values) / len(values)
    if stat == "SampleCount":
        return float(len(values))
    if stat.startswith("p"):
        ordered = sorted(values)
        rank = max(0, math.ceil(float(stat[1:]) / 100 * len(ordered)) - 1)
        return ordered[rank]
    return None
