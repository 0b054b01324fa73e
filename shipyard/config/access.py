"""Who may reach a service's test listener: `network.testAccessCidrs`, checked at load time.

The test listener serves the idle color, an unreleased version, so it is not public by default.
The load balancer is internet-facing: its DNS name resolves to the nodes' public addresses
(https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html,
`Scheme`), so a client reaches the test port from a public address, even from inside the VPC:
a task or runner in a private subnet arrives from its NAT gateway's Elastic IP
(https://docs.aws.amazon.com/vpc/latest/userguide/vpc-nat-gateway.html), one in a public subnet
from its own public IP. The program therefore admits, by default, the VPC's range and each NAT
gateway's Elastic IP as a /32 (components/access.py); `testAccessCidrs` adds to that (a
VPN, a self-hosted runner's egress). docs/aws.md, "Reaching the test listener".
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

KEY = "network.testAccessCidrs"


def access_cidr(value: str) -> str:
    """One entry of testAccessCidrs: an IPv4 network in CIDR notation, host bits clear."""
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValueError(f"must be an IPv4 CIDR such as 203.0.113.0/24 (got {value!r})") from None
    if "/" not in value:
        raise ValueError(f"write a CIDR with its prefix, such as {value}/32 (got {value!r})")
    if net.version != 4:
        # The load balancer is created with the default ipAddressType, ipv4: no IPv6 client
        # reaches it, so an IPv6 range would admit nobody.
        # https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-ip-address-type.html
        raise ValueError(
            f"the load balancer is IPv4-only; write an IPv4 CIDR such as 203.0.113.0/24 "
            f"(got {value!r})"
        )
    if str(net) != value:
        raise ValueError(f"has host bits set; write {net} (got {value!r})")
    return value


Problem = tuple[tuple[str | int, ...], str]

# How much of IPv4 the list may admit without testAccessPublic: less than a /8 (16,777,216
# addresses), counted over the collapsed ranges, so two /1s or 256 /16s are the same as
# 0.0.0.0/0 or 10.0.0.0/8. A VPN, an office or a runner's egress is a few /24s at most; a /8 is
# a whole provider's allocation, not "who may reach the test listener".
PUBLIC_BOUND = ipaddress.ip_network("0.0.0.0/8").num_addresses


def covered(cidrs: Sequence[str]) -> int:
    """How many IPv4 addresses the ranges admit together (overlaps counted once)."""
    nets = ipaddress.collapse_addresses(ipaddress.IPv4Network(c) for c in cidrs)
    return sum(net.num_addresses for net in nets)


def access_problem(
    cidrs: Sequence[str], public: bool, vpc_cidr: str | None, adopted: bool
) -> Problem | None:
    """What is wrong with the list as a whole, and where (a path below `network`): a /8's
    worth of addresses or more only when opted in, no duplicates, required when the VPC is
    adopted."""
    for index, cidr in enumerate(cidrs):
        if cidr in cidrs[:index]:
            return ("testAccessCidrs", index), f"{cidr} is listed twice; keep one"
        if cidr == vpc_cidr:
            return ("testAccessCidrs", index), (
                f"{cidr} is the VPC's own range, which is always admitted; remove it"
            )
    count = covered(cidrs)
    if count >= PUBLIC_BOUND and not public:
        share = f"{count / 2**32:.2%} of IPv4" if count < 2**32 else "all of IPv4"
        return ("testAccessCidrs",), (
            f"{', '.join(cidrs)} together admit {count:,} addresses ({share}), a /8 or more, "
            "to the test listener (unreleased versions); list your runners' or VPN's ranges "
            "instead, or set testAccessPublic: true to accept that"
        )
    if public and count < PUBLIC_BOUND:
        return ("testAccessPublic",), (
            "only acknowledges testAccessCidrs that admit a /8 or more (such as 0.0.0.0/0), "
            "and these do not; remove it"
        )
    if adopted and not cidrs:
        return ("testAccessCidrs",), (
            "required with vpcId: shipyard cannot see an adopted VPC's range or its NAT "
            "gateways; list the CIDRs that may reach the test listener (the VPC's range and "
            "its NAT gateways' Elastic IPs as /32)"
        )
    return None
