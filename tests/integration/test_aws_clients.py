"""shipyard.aws against moto server: retries with backoff, explained errors, counted calls,
and the CloudWatch window a rollout's analysis reads."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from botocore.awsrequest import AWSResponse

from rollout.platforms.aws.health import AwsHealth
from shipyard import aws as shipyard_aws
from shipyard.aws import AccessDenied, Aws, PlatformError
from shipyard.config.model import Color
from shipyard.errors import UsageError

BLUE, GREEN = Color.BLUE, Color.GREEN


class Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data


def query_error(code: str, message: str, status: int = 400) -> Any:
    """An ELBv2 (query protocol) error answer, as AWS would send it."""
    body = (
        "<ErrorResponse><Error><Type>Sender</Type>"
        f"<Code>{code}</Code><Message>{message}</Message></Error>"
        "<RequestId>0</RequestId></ErrorResponse>"
    ).encode()

    def answer(request: Any, **_: Any) -> AWSResponse:
        return AWSResponse(request.url, status, {"Content-Type": "text/xml"}, Body(body))

    return answer


@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Aws:
    httpx.post(f"{moto_url}/moto-api/reset", timeout=30).raise_for_status()
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    shipyard_aws.CALLS.clear()
    return Aws("us-east-1", moto_url, "dev")


def test_throttling_is_retried_with_backoff_and_counted_once(aws: Aws) -> None:
    elbv2 = aws.client("elbv2")
    attempts: list[float] = []
    throttle = query_error("Throttling", "Rate exceeded")

    def sometimes(request: Any, **kwargs: Any) -> AWSResponse | None:
        attempts.append(time.monotonic())
        return throttle(request) if len(attempts) <= 2 else None  # then moto answers

    elbv2.meta.events.register_first("before-send.elastic-load-balancing-v2", sometimes)
    assert elbv2.describe_load_balancers()["LoadBalancers"] == []
    assert len(attempts) == 3
    assert shipyard_aws.CALLS == {"elasticloadbalancing:DescribeLoadBalancers": 1}


def test_throttling_beyond_the_attempts_is_one_platform_error(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHIPYARD_AWS_MAX_ATTEMPTS", "2")
    elbv2 = Aws("us-east-1", aws.endpoint_url, "dev").client("elbv2")
    attempts: list[int] = []

    def always(request: Any, **_: Any) -> AWSResponse:
        attempts.append(1)
        answer: AWSResponse = query_error("Throttling", "Rate exceeded")(request)
        return answer

    elbv2.meta.events.register_first("before-send.elastic-load-balancing-v2", always)
    with pytest.raises(PlatformError) as raised:
        elbv2.describe_load_balancers()
    assert len(attempts) == 2
    assert str(raised.value) == (
        "elasticloadbalancing:DescribeLoadBalancers failed: Throttling: Rate exceeded"
    )
    assert raised.value.exit_code == 1


def test_access_denied_names_the_iam_action_and_is_not_retried(aws: Aws) -> None:
    elbv2 = aws.client("elbv2")
    attempts: list[int] = []
    deny = query_error("AccessDenied", "User: ci is not authorized", 403)

    def counted(request: Any, **_: Any) -> AWSResponse:
        attempts.append(1)
        answer: AWSResponse = deny(request)
        return answer

    elbv2.meta.events.register_first(
        "before-send.elastic-load-balancing-v2.ModifyListener", counted
    )
    with pytest.raises(AccessDenied) as raised:
        elbv2.modify_listener(ListenerArn="arn:aws:elasticloadbalancing:x", DefaultActions=[])
    assert attempts == [1]
    assert str(raised.value).startswith(
        "access denied: this identity may not call elasticloadbalancing:ModifyListener "
        "(User: ci is not authorized); grant it: docs/aws.md"
    )


def test_s3_keeps_its_client_errors_except_access_denied(aws: Aws) -> None:
    from botocore.exceptions import ClientError

    s3 = aws.client("s3", translate_all=False)
    with pytest.raises(ClientError) as raised:
        s3.get_object(Bucket="nope", Key="events/1.json")
    assert raised.value.response["Error"]["Code"] == "NoSuchBucket"
    assert shipyard_aws.CALLS == {"s3:GetObject": 1}


def test_a_bad_attempt_count_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIPYARD_AWS_MAX_ATTEMPTS", "many")
    with pytest.raises(UsageError, match="SHIPYARD_AWS_MAX_ATTEMPTS='many': must be a whole"):
        Aws("us-east-1", "http://127.0.0.1:9")


def test_the_analysis_window_sums_the_target_groups_alb_metrics(aws: Aws) -> None:
    cloudwatch = aws.client("cloudwatch")
    groups = {
        BLUE: "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web-blue-tg/aa",
        GREEN: "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web-green-tg/bb",
    }
    now = time.time()
    health = AwsHealth(
        aws.client("elbv2"),
        cloudwatch,
        groups,
        {BLUE: [], GREEN: []},
        target_health=lambda arn: [("10.0.0.1", "healthy")],
        load_balancer_arn="arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/web-alb/cc",
        clock=lambda: now,
    )
    before = health.snapshot()
    at = dt.datetime.fromtimestamp(now, dt.UTC)

    def put(color: Color, metric: str, value: float) -> None:
        dimensions = [
            {"Name": "TargetGroup", "Value": groups[color].split(":")[-1]},
            {"Name": "LoadBalancer", "Value": "app/web-alb/cc"},
        ]
        cloudwatch.put_metric_data(
            Namespace="AWS/ApplicationELB",
            MetricData=[
                {"MetricName": metric, "Dimensions": dimensions, "Value": value, "Timestamp": at}
            ],
        )

    put(GREEN, "RequestCount", 120)
    put(GREEN, "HTTPCode_Target_5XX_Count", 3)
    put(GREEN, "TargetConnectionErrorCount", 1)
    put(BLUE, "RequestCount", 900)
    window = health.over_window(before, health.snapshot())
    green, blue = window[GREEN], window[BLUE]
    assert (green.requests, green.http_5xx, green.errors) == (120, 3, 1)
    assert (blue.requests, blue.http_5xx, blue.errors) == (900, 0, 0)
    assert green.ready and blue.ready
    # The ALB's own 502/503/504 are counted per load balancer only: they count against every
    # color that took requests in the window.
    cloudwatch.put_metric_data(
        Namespace="AWS/ApplicationELB",
        MetricData=[
            {
                "MetricName": "HTTPCode_ELB_5XX_Count",
                "Dimensions": [{"Name": "LoadBalancer", "Value": "app/web-alb/cc"}],
                "Value": 7,
                "Timestamp": at,
            }
        ],
    )
    window = health.over_window(before, health.snapshot())
    assert (window[GREEN].http_5xx, window[BLUE].http_5xx) == (3 + 7, 7)
    # One GetMetricData for every color's counters; p99 per color (moto keeps none: 0 ms).
    assert shipyard_aws.CALLS["cloudwatch:GetMetricData"] == 2
    assert shipyard_aws.CALLS["cloudwatch:GetMetricStatistics"] == 4
    assert green.response_ms == 0
