"""Network: a VPC with public and private subnets across AZs and NAT, or adopted existing ids."""

from __future__ import annotations

import ipaddress
import string
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.tags import tagged
from shipyard.config.model import Network as NetworkConfig

SUBNET_BITS = 4  # a /16 VPC gets /20 subnets; room for up to 8 AZs x (public + private)


@dataclass(frozen=True)
class NetworkArgs:
    environment: str
    region: str
    network: NetworkConfig
    tags: Mapping[str, str] = field(default_factory=dict)


def availability_zones(region: str, network: NetworkConfig) -> list[str]:
    """Explicit zones, else the region's first az_count zones (a, b, c...)."""
    if network.availability_zones:
        return list(network.availability_zones)
    return [f"{region}{letter}" for letter in string.ascii_lowercase[: network.az_count]]


def subnet_cidrs(cidr: str, count: int) -> list[str]:
    """count equal subnets carved from the start of cidr."""
    net = ipaddress.IPv4Network(cidr)
    new_prefix = min(net.prefixlen + SUBNET_BITS, 28)
    subnets = list(net.subnets(new_prefix=new_prefix))
    return [str(s) for s in subnets[:count]]


class Network(pulumi.ComponentResource):
    """Where every service of one environment runs."""

    vpc_id: pulumi.Output[str]
    public_subnet_ids: pulumi.Output[list[str]]
    task_subnet_ids: pulumi.Output[list[str]]
    assign_public_ip: bool
    # Each NAT gateway's Elastic IP by the EIP's logical name: the address clients in private
    # subnets reach the internet-facing load balancer from (components/access.py).
    nat_public_ips: dict[str, pulumi.Output[str]]

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("shipyard:network:Network", name, None, opts)
        config = args.network
        self.nat_public_ips = {}
        if config.adopted:
            self.vpc_id = pulumi.Output.from_input(config.vpc_id or "")
            self.public_subnet_ids = pulumi.Output.from_input(list(config.public_subnet_ids))
            self.task_subnet_ids = pulumi.Output.from_input(list(config.private_subnet_ids))
            self.assign_public_ip = False
        else:
            self._create(name, args)
        self.register_outputs(
            {
                "vpcId": self.vpc_id,
                "publicSubnetIds": self.public_subnet_ids,
                "taskSubnetIds": self.task_subnet_ids,
            }
        )

    def _create(self, name: str, args: NetworkArgs) -> None:
        config = args.network
        child = pulumi.ResourceOptions(parent=self)
        zones = availability_zones(args.region, config)
        cidrs = subnet_cidrs(config.cidr or "", 2 * len(zones))
        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=config.cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags=tagged(args.tags, f"{name}-vpc"),
            opts=child,
        )
        gateway = aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=vpc.id, tags=tagged(args.tags, f"{name}-igw"), opts=child
        )
        public_routes = aws.ec2.RouteTable(
            f"{name}-public-routes",
            vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=gateway.id)],
            tags=tagged(args.tags, f"{name}-public-routes"),
            opts=child,
        )
        public, private = [], []
        for index, zone in enumerate(zones):
            suffix = zone[-1]
            public.append(
                aws.ec2.Subnet(
                    f"{name}-public-{suffix}",
                    vpc_id=vpc.id,
                    cidr_block=cidrs[index],
                    availability_zone=zone,
                    map_public_ip_on_launch=True,
                    tags=tagged(args.tags, f"{name}-public-{suffix}", tier="public"),
                    opts=child,
                )
            )
            private.append(
                aws.ec2.Subnet(
                    f"{name}-private-{suffix}",
                    vpc_id=vpc.id,
                    cidr_block=cidrs[len(zones) + index],
                    availability_zone=zone,
                    map_public_ip_on_launch=False,
                    tags=tagged(args.tags, f"{name}-private-{suffix}", tier="private"),
                    opts=child,
                )
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{suffix}-assoc",
                subnet_id=public[-1].id,
                route_table_id=public_routes.id,
                opts=child,
            )
        nats = []
        for index in range(config.nat_gateways):
            suffix = zones[index][-1]
            eip_name = f"{name}-nat-{suffix}-ip"
            eip = aws.ec2.Eip(eip_name, domain="vpc", tags=tagged(args.tags, eip_name), opts=child)
            self.nat_public_ips[eip_name] = eip.public_ip
            nats.append(
                aws.ec2.NatGateway(
                    f"{name}-nat-{suffix}",
                    allocation_id=eip.id,
                    subnet_id=public[index].id,
                    tags=tagged(args.tags, f"{name}-nat-{suffix}"),
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[gateway]),
                )
            )
        if nats:
            for index, zone in enumerate(zones):
                suffix = zone[-1]
                # Each AZ uses its own NAT when there is one, else shares the first.
                nat = nats[index] if index < len(nats) else nats[0]
                routes = aws.ec2.RouteTable(
                    f"{name}-private-{suffix}-routes",
                    vpc_id=vpc.id,
                    routes=[
                        aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=nat.id)
                    ],
                    tags=tagged(args.tags, f"{name}-private-{suffix}-routes"),
                    opts=child,
                )
                aws.ec2.RouteTableAssociation(
                    f"{name}-private-{suffix}-assoc",
                    subnet_id=private[index].id,
                    route_table_id=routes.id,
                    opts=child,
                )
        self.vpc_id = vpc.id
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in public])
        # Without NAT, private subnets have no way out: tasks run in public subnets with a
        # public IP (cheap dev environments), still reachable only through their security group.
        self.assign_public_ip = not nats
        chosen = private if nats else public
        self.task_subnet_ids = pulumi.Output.all(*[s.id for s in chosen])
