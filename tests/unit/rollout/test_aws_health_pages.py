"""The AWS health source reads every page of DescribeAlarms, not only the first."""

from __future__ import annotations

import boto3
from botocore.stub import Stubber

from rollout.platforms.aws.health import AwsHealth
from shipyard.config.model import Color


def alarm(name: str, state: str) -> dict[str, object]:
    return {"AlarmName": name, "StateValue": state}


def test_an_alarm_on_the_second_page_is_seen() -> None:
    cloudwatch = boto3.client(
        "cloudwatch", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    names = {Color.BLUE: [f"blue-{i}" for i in range(60)], Color.GREEN: ["green-5xx"]}
    every = [*names[Color.BLUE], *names[Color.GREEN]]
    with Stubber(cloudwatch) as stub:
        # A page of 50 quiet alarms, then the rest, the green one in ALARM.
        stub.add_response(
            "describe_alarms",
            {"MetricAlarms": [alarm(n, "OK") for n in every[:50]], "NextToken": "page-2"},
            {"AlarmNames": every, "MaxRecords": 100},
        )
        stub.add_response(
            "describe_alarms",
            {
                "MetricAlarms": [alarm(n, "OK") for n in every[50:60]]
                + [alarm("green-5xx", "ALARM")]
            },
            {"AlarmNames": every, "MaxRecords": 100, "NextToken": "page-2"},
        )
        health = AwsHealth(
            elbv2=None,
            cloudwatch=cloudwatch,
            target_groups={Color.BLUE: "tg-blue", Color.GREEN: "tg-green"},
            alarms=names,
            target_health=lambda _group: [],
        )
        snapshot = health.snapshot()
        stub.assert_no_pending_responses()
    assert snapshot[Color.GREEN].alarms == ("green-5xx",)
    assert snapshot[Color.BLUE].alarms == ()
