"""Pulumi mocks that answer like AWS would, and a monitor that remembers who parents whom.

Under mocks there are no autonames, provider defaults or computed outputs: any output the program
reads but the mock does not return resolves to None, and a dict input holding it silently loses
the key. So every output the program reads (`arn`, `arnSuffix`, `dnsName`, `id`, `name`) is
returned here, and values are derived from the logical name so a render is byte-identical across
runs.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.runtime.mocks import MockMonitor

ACCOUNT = "123456789012"
# EC2 ids look like AWS's: a prefix and 17 hex digits.
EC2_ID_PREFIXES = {
    "aws:ec2/vpc:Vpc": "vpc",
    "aws:ec2/subnet:Subnet": "subnet",
    "aws:ec2/internetGateway:InternetGateway": "igw",
    "aws:ec2/eip:Eip": "eipalloc",
    "aws:ec2/natGateway:NatGateway": "nat",
    "aws:ec2/routeTable:RouteTable": "rtb",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "rtbassoc",
    "aws:ec2/securityGroup:SecurityGroup": "sg",
}


def _digest(text: str, length: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


@dataclass
class Registration:
    type: str
    name: str
    custom: bool
    inputs: dict[str, Any]


class AwsMocks(pulumi.runtime.Mocks):
    """Answers resource registrations with AWS-shaped outputs; records the inputs it was given."""

    def __init__(self, region: str) -> None:
        self.region = region
        self.registrations: dict[tuple[str, str], Registration] = {}
        self._lock = threading.Lock()

    def new_resource(
        self, args: pulumi.runtime.MockResourceArgs
    ) -> tuple[str | None, dict[str, Any]]:
        with self._lock:
            self.registrations[(args.typ, args.name)] = Registration(
                type=args.typ, name=args.name, custom=bool(args.custom), inputs=dict(args.inputs)
            )
        if not args.custom:
            return None, {}
        # Only computed outputs: the SDK resolves every other output from its input, and
        # sending the inputs back through the mock monitor would serialise them twice.
        name = args.inputs.get("name", args.name)
        resource_id = self._id(args.typ, args.name)
        outputs: dict[str, Any] = {"name": name, "id": resource_id}
        outputs["arn"] = self._arn(args.typ, args.name, name, args.inputs)
        if args.typ == "aws:lb/loadBalancer:LoadBalancer":
            suffix = f"app/{args.name}/{_digest(args.name, 16)}"
            outputs["arnSuffix"] = suffix
            outputs["dnsName"] = (
                f"{args.name}-{int(_digest(args.name, 8), 16)}.{self.region}.elb.amazonaws.com"
            )
            outputs["zoneId"] = "Z35SXDOTRQ7X7K"
        elif args.typ == "aws:lb/targetGroup:TargetGroup":
            outputs["arnSuffix"] = f"targetgroup/{args.name}/{_digest(args.name, 16)}"
        elif args.typ == "aws:ec2/eip:Eip":
            # The test listener admits each NAT gateway's address (components/access.py). From
            # a documentation range (RFC 5737) and the logical name alone: the same role's
            # address in every environment, so parity sees no difference between them.
            outputs["publicIp"] = f"198.51.100.{int(_digest(args.name, 4), 16) % 254 + 1}"
        return resource_id, outputs

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        raise NotImplementedError(
            f"the shipyard program must not call {args.token} (data sources need a cloud); "
            "pass the value through stack config instead"
        )

    def _id(self, typ: str, name: str) -> str:
        prefix = EC2_ID_PREFIXES.get(typ)
        if prefix is not None:
            return f"{prefix}-0{_digest(typ + name, 16)}"
        return f"{name}-id"

    def _arn(self, typ: str, name: str, physical_name: str, inputs: dict[str, Any]) -> str:
        # "aws:lb/targetGroup:TargetGroup" -> service "lb", resource "targetGroup"
        module = typ.split(":")[1]
        service, _, kind = module.partition("/")
        service = {"lb": "elasticloadbalancing", "cloudwatch": "cloudwatch"}.get(service, service)
        if service == "iam":
            # IAM puts the path between the type and the name: role/PATH/NAME.
            path = str(inputs.get("path") or "/")
            return f"arn:aws:iam::{ACCOUNT}:{kind.lower()}{path}{physical_name}"
        if typ == "aws:ecs/taskDefinition:TaskDefinition":
            # A revision of the family, as ECS names it: task-definition/FAMILY:REVISION.
            return f"arn:aws:ecs:{self.region}:{ACCOUNT}:task-definition/{inputs['family']}:1"
        return f"arn:aws:{service}:{self.region}:{ACCOUNT}:{kind.lower()}/{name}"


class RecordingMonitor(MockMonitor):
    """A MockMonitor that also records each resource's parent URN, the URNs it depends on
    (explicit `depends_on` and those its inputs come from), as the engine would order them, and
    the inputs it asks the engine to leave alone after creation (`ignore_changes`)."""

    def __init__(self, mocks: AwsMocks) -> None:
        super().__init__(mocks)
        self.parents: dict[tuple[str, str], str] = {}
        self.dependencies: dict[tuple[str, str], list[str]] = {}
        self.ignored: dict[tuple[str, str], list[str]] = {}
        self._lock = threading.Lock()

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        if request.type != "pulumi:pulumi:Stack":
            with self._lock:
                self.parents[(request.type, request.name)] = request.parent
                self.dependencies[(request.type, request.name)] = list(request.dependencies)
                self.ignored[(request.type, request.name)] = list(request.ignoreChanges)
        return super().RegisterResource(request)  # type: ignore[no-untyped-call]
