"""The AWS-shaped mocks: stable ids and ARNs, and no silent data sources."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pytest

from parity.render import render_program


def test_ids_and_arns_are_derived_from_names_and_stable() -> None:
    def program() -> None:
        vpc = aws.ec2.Vpc("net-vpc", cidr_block="10.0.0.0/16")
        alb = aws.lb.LoadBalancer("web-alb", load_balancer_type="application")
        pulumi.export("vpc", vpc.id)
        pulumi.export("alb", {"arn": alb.arn, "suffix": alb.arn_suffix, "dns": alb.dns_name})

    first = render_program(program, stack="dev", config={}, secret_keys=[], region="eu-west-1")
    second = render_program(program, stack="dev", config={}, secret_keys=[], region="eu-west-1")
    assert first.outputs == second.outputs
    assert first.outputs["vpc"].startswith("vpc-0") and len(first.outputs["vpc"]) == 21
    alb = first.outputs["alb"]
    assert alb["arn"] == "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/web-alb"
    assert alb["suffix"].startswith("app/web-alb/")
    assert alb["dns"].endswith(".eu-west-1.elb.amazonaws.com")


def test_a_program_calling_a_data_source_fails_loudly() -> None:
    def program() -> None:
        aws.get_availability_zones()

    with pytest.raises(Exception, match="must not call aws:index/getAvailabilityZones"):
        render_program(program, stack="dev", config={}, secret_keys=[], region="us-east-1")
