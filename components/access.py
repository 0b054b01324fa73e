"""Who may reach the test listener: the security-group rules for a service's test port.

The test port serves the idle color, a version no user has seen yet, so it admits the
environment's own VPC and nothing else unless the stack says so (shipyard.config.access says why
that means the VPC's range plus each NAT gateway's Elastic IP). One rule per source, each with a
description that says where it comes from, so a reader of the security group (and a parity
report) sees why an address is admitted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from shipyard.config.access import KEY
from shipyard.config.model import Network as NetworkConfig

FROM_VPC = "the VPC"
FROM_NAT = "NAT gateway {name}"
FROM_CONFIG = KEY


@dataclass(frozen=True)
class AccessSource:
    """One range admitted to the test port, and why."""

    cidr: pulumi.Input[str]
    reason: str


def access_sources(
    network: NetworkConfig, nat_public_ips: Mapping[str, pulumi.Input[str]]
) -> list[AccessSource]:
    """The VPC's range, each NAT gateway's Elastic IP as a /32, then network.testAccessCidrs.

    A client in the VPC reaches the internet-facing load balancer from its NAT gateway's
    address (private subnets) or its own public IP (public subnets): the VPC range alone would
    admit nobody there. An adopted VPC's range and NAT gateways are unknown to the program, so
    its stack lists them in testAccessCidrs (the config refuses an adopted VPC without them).
    """
    sources = []
    if not network.adopted and network.cidr is not None:
        sources.append(AccessSource(network.cidr, FROM_VPC))
    for name, address in sorted(nat_public_ips.items()):
        cidr = pulumi.Output.from_input(address).apply(lambda ip: f"{ip}/32")
        sources.append(AccessSource(cidr, FROM_NAT.format(name=name)))
    sources.extend(AccessSource(cidr, FROM_CONFIG) for cidr in network.test_access_cidrs)
    return sources


def access_ingress(
    port: int, sources: Sequence[AccessSource]
) -> list[aws.ec2.SecurityGroupIngressArgs]:
    """The test port's ingress rules: one per admitted range."""
    return [
        aws.ec2.SecurityGroupIngressArgs(
            protocol="tcp",
            from_port=port,
            to_port=port,
            cidr_blocks=[source.cidr],
            description=f"test listener from {source.reason}",
        )
        for source in sources
    ]
