"""Analysis: a color's health over a window against the policy's thresholds.

Too few requests is *inconclusive*, never a pass: a release nobody exercised has proven
nothing. Latency is compared with `maxP99LatencyMs` using what the platform reports: on the
local platform HAProxy's average response time over each server's last 1024 requests (the
slowest server counts), on AWS the target group's p99.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rollout.interfaces import ColorHealth, ServerState
from shipyard.config.model import Analysis


@dataclass(frozen=True)
class Verdict:
    result: str  # pass | fail | inconclusive
    reason: str
    figures: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"result": self.result, "reason": self.reason, **self.figures}


def analyse(window: ColorHealth, policy: Analysis) -> Verdict:
    down = [s.name for s in window.servers if s.state is not ServerState.UP]
    requests, failures = window.requests, window.http_5xx + window.errors
    rate = failures / requests if requests else 0.0
    figures = {
        "requests": requests,
        "http_5xx": window.http_5xx,
        "errors": window.errors,
        "error_rate": round(rate, 4),
        "max_error_rate": policy.max_5xx_rate,
        "min_requests": policy.min_requests,
        "response_ms": window.response_ms,
        "max_latency_ms": policy.max_p99_latency_ms,
    }
    if window.alarms:
        return Verdict("fail", f"alarm in ALARM: {', '.join(window.alarms)}", figures)
    if down:
        return Verdict("fail", f"servers not healthy: {', '.join(down)}", figures)
    if requests and rate > policy.max_5xx_rate:
        return Verdict(
            "fail",
            f"5xx rate {100 * rate:.1f}% ({failures} of {requests}) above "
            f"{100 * policy.max_5xx_rate:.1f}%",
            figures,
        )
    if requests and window.response_ms > policy.max_p99_latency_ms:
        return Verdict(
            "fail",
            f"response time {window.response_ms} ms above {policy.max_p99_latency_ms} ms",
            figures,
        )
    if requests < policy.min_requests:
        return Verdict(
            "inconclusive", f"{requests} requests, fewer than {policy.min_requests}", figures
        )
    return Verdict("pass", f"5xx rate {100 * rate:.1f}% over {requests} requests", figures)
