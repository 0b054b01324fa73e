"""Who may reach the test listener: the program under mocks, the setting's validation through
`shipyard stacks render`, and parity's view of a test port opened wider than the VPC."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pulumi
import pytest
import yaml

from parity.mocks import AwsMocks
from parity.render import RenderedStack
from shipyard.config.load import StackSources, load_stack
from tests.conftest import CliResult, snapshot

ENVS = ["dev", "staging", "prod"]
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
ANYWHERE = ["0.0.0.0/0"]


def ingress(stack: RenderedStack, service: str) -> list[dict[str, Any]]:
    rules = stack.find(SECURITY_GROUP, f"{service}-alb-sg")["inputs"]["ingress"]
    return [
        {**rule, "fromPort": int(rule["fromPort"]), "toPort": int(rule["toPort"])} for rule in rules
    ]


def on_port(rules: list[dict[str, Any]], port: int) -> list[tuple[str, list[str]]]:
    return [(r.get("description", ""), r["cidrBlocks"]) for r in rules if r["fromPort"] == port]


def nat_address(name: str) -> str:
    """What the Elastic IP named `name` answers as its publicIp under the mocks."""
    args = pulumi.runtime.MockResourceArgs("aws:ec2/eip:Eip", name, {}, custom=True)
    return str(AwsMocks("us-east-1").new_resource(args)[1]["publicIp"])


def set_network(project: StackSources, env: str, **keys: Any) -> None:
    overlay = project.overlay(env)
    doc: dict[str, Any] = yaml.safe_load(overlay.read_text()) or {}
    doc.setdefault("network", {}).update(keys)
    overlay.write_text(yaml.safe_dump(doc))


@pytest.mark.parametrize("env", ENVS)
def test_the_test_port_admits_the_vpc_its_nat_gateways_and_the_listed_ranges_only(
    env: str, repo_sources: StackSources, rendered: dict[str, RenderedStack]
) -> None:
    config = load_stack(repo_sources, env).config
    zones = [f"{config.region}{z}" for z in "abcdef"][: config.network.nat_gateways]
    expected = [("test listener from the VPC", [config.network.cidr])]
    for zone in zones:
        name = f"network-nat-{zone[-1]}-ip"
        expected.append((f"test listener from NAT gateway {name}", [f"{nat_address(name)}/32"]))
    expected += [
        ("test listener from network.testAccessCidrs", [cidr])
        for cidr in config.network.test_access_cidrs
    ]
    for service in config.services:
        rules = ingress(rendered[env], service.name)
        assert on_port(rules, service.test_port) == expected
        public = [80, 443] if config.tls else [80]
        for port in public:
            assert on_port(rules, port) == [("", ANYWHERE)]
        assert {r["fromPort"] for r in rules} == {*public, service.test_port}


def test_committed_stacks_admit_what_they_say(rendered: dict[str, RenderedStack]) -> None:
    # Literal anchors: dev (no NAT) lists its runners' range, prod admits three NAT addresses.
    assert [c for _, c in on_port(ingress(rendered["dev"], "web"), 9000)] == [
        ["10.10.0.0/16"],
        ["203.0.113.0/24"],
    ]
    prod = on_port(ingress(rendered["prod"], "api"), 9001)
    assert prod[0] == ("test listener from the VPC", ["10.30.0.0/16"])
    assert len(prod) == 4 and all(c[0].endswith("/32") for _, c in prod[1:])
    for env in ENVS:
        for service, port in (("web", 9000), ("api", 9001)):
            assert all(c != ANYWHERE for _, c in on_port(ingress(rendered[env], service), port))


def test_configured_ranges_are_added_and_an_adopted_vpc_admits_exactly_them(
    project: StackSources, rerender: Callable[[str], RenderedStack]
) -> None:
    set_network(project, "staging", testAccessCidrs=["192.0.2.0/24", "198.51.100.7/32"])
    staging = on_port(ingress(rerender("staging"), "web"), 9000)
    assert [c for _, c in staging] == [
        ["10.20.0.0/16"],
        [f"{nat_address('network-nat-a-ip')}/32"],
        ["192.0.2.0/24"],
        ["198.51.100.7/32"],
    ]
    set_network(
        project,
        "staging",
        cidr=None,
        vpcId="vpc-0abc",
        publicSubnetIds=["subnet-pub1", "subnet-pub2"],
        privateSubnetIds=["subnet-priv1", "subnet-priv2"],
        testAccessCidrs=["10.50.0.0/16", "203.0.113.9/32"],
    )
    adopted = on_port(ingress(rerender("staging"), "web"), 9000)
    assert adopted == [
        ("test listener from network.testAccessCidrs", ["10.50.0.0/16"]),
        ("test listener from network.testAccessCidrs", ["203.0.113.9/32"]),
    ]


def test_opening_the_test_port_to_everyone_takes_an_explicit_opt_in(
    project: StackSources, rerender: Callable[[str], RenderedStack]
) -> None:
    set_network(project, "prod", testAccessCidrs=["0.0.0.0/0"], testAccessPublic=True)
    prod = on_port(ingress(rerender("prod"), "web"), 9000)
    assert prod[-1] == ("test listener from network.testAccessCidrs", ANYWHERE)


BAD = [
    (
        {"testAccessCidrs": ["0.0.0.0/0"]},
        "network.testAccessCidrs: 0.0.0.0/0 together admit 4,294,967,296 addresses (all of "
        "IPv4), a /8 or more, to the test listener (unreleased versions); list your runners' or "
        "VPN's ranges instead, or set testAccessPublic: true to accept that",
    ),
    (
        # All of IPv4 in two halves: no single entry is /0.
        {"testAccessCidrs": ["0.0.0.0/1", "128.0.0.0/1"]},
        "network.testAccessCidrs: 0.0.0.0/1, 128.0.0.0/1 together admit 4,294,967,296 "
        "addresses (all of IPv4), a /8 or more",
    ),
    (
        {"testAccessCidrs": ["0.0.0.0/1"]},
        "network.testAccessCidrs: 0.0.0.0/1 together admit 2,147,483,648 addresses (50.00% of "
        "IPv4), a /8 or more",
    ),
    (
        {"testAccessCidrs": ["0.0.0.0/8"]},
        "network.testAccessCidrs: 0.0.0.0/8 together admit 16,777,216 addresses (0.39% of "
        "IPv4), a /8 or more",
    ),
    (
        # Two /9s are a /8 once collapsed.
        {"testAccessCidrs": ["198.0.0.0/9", "198.128.0.0/9"]},
        "network.testAccessCidrs: 198.0.0.0/9, 198.128.0.0/9 together admit 16,777,216 "
        "addresses (0.39% of IPv4), a /8 or more",
    ),
    (
        {"testAccessCidrs": ["::/0"]},
        "network.testAccessCidrs[0]: the load balancer is IPv4-only; write an IPv4 CIDR such as "
        "203.0.113.0/24 (got '::/0')",
    ),
    (
        {"testAccessCidrs": ["192.0.2.0/24", "203.0.113.7"]},
        "network.testAccessCidrs[1]: write a CIDR with its prefix, such as 203.0.113.7/32 "
        "(got '203.0.113.7')",
    ),
    (
        {"testAccessCidrs": ["203.0.113.7/24"]},
        "network.testAccessCidrs[0]: has host bits set; write 203.0.113.0/24 "
        "(got '203.0.113.7/24')",
    ),
    (
        {"testAccessCidrs": ["office"]},
        "network.testAccessCidrs[0]: must be an IPv4 CIDR such as 203.0.113.0/24 (got 'office')",
    ),
    (
        {"testAccessCidrs": ["192.0.2.0/24", "192.0.2.0/24"]},
        "network.testAccessCidrs[1]: 192.0.2.0/24 is listed twice; keep one",
    ),
    (
        {"testAccessCidrs": ["10.30.0.0/16"]},
        "network.testAccessCidrs[0]: 10.30.0.0/16 is the VPC's own range, which is always "
        "admitted; remove it",
    ),
    (
        {"testAccessPublic": True},
        "network.testAccessPublic: only acknowledges testAccessCidrs that admit a /8 or more "
        "(such as 0.0.0.0/0), and these do not; remove it",
    ),
    (
        {
            "cidr": None,
            "vpcId": "vpc-0abc",
            "publicSubnetIds": ["subnet-pub1"],
            "privateSubnetIds": ["subnet-priv1"],
        },
        "network.testAccessCidrs: required with vpcId: shipyard cannot see an adopted VPC's range "
        "or its NAT gateways; list the CIDRs that may reach the test listener (the VPC's range "
        "and its NAT gateways' Elastic IPs as /32)",
    ),
]


@pytest.mark.parametrize(("network", "message"), BAD)
def test_stacks_render_refuses_a_bad_test_access_setting(
    network: dict[str, Any],
    message: str,
    project: StackSources,
    cli: Callable[..., CliResult],
) -> None:
    set_network(project, "prod", **network)
    before = snapshot(project.root)
    result = cli("stacks", "render", project=project)
    assert result.code == 2, result
    assert result.err.startswith(f"shipyard: stacks/prod.yaml: {message}"), result.err
    assert len(result.err.strip().splitlines()) == 1
    assert "Traceback" not in result.err
    assert snapshot(project.root) == before


@pytest.mark.parametrize(
    "cidrs",
    [
        ["198.0.0.0/9", "203.0.113.0/24"],  # under a /8 together: a big VPN is still allowed
        ["198.0.0.0/9", "198.0.0.0/10"],  # overlaps count once
    ],
)
def test_ranges_under_the_bound_render_without_the_opt_in(
    cidrs: list[str], project: StackSources, cli: Callable[..., CliResult]
) -> None:
    set_network(project, "prod", testAccessCidrs=cidrs)
    assert cli("stacks", "render", project=project).code == 0


def test_parity_fails_on_a_prod_test_port_open_to_everyone(
    project: StackSources, cli: Callable[..., CliResult]
) -> None:
    clean = cli("parity", "--format", "json", project=project)
    assert clean.code == 0, clean
    set_network(project, "prod", testAccessCidrs=["0.0.0.0/0"], testAccessPublic=True)
    assert cli("stacks", "render", project=project).code == 0
    result = cli("parity", "--format", "json", project=project)
    assert result.code == 1, result
    report = json.loads(result.out)
    opened = [
        d
        for d in report["differences"]
        if d["path"].startswith('web-alb-sg.ingress[cidrBlocks=["0.0.0.0/0"],description=test')
    ]
    assert [(d["classification"], d["critical"]) for d in opened] == [("missing", True)], opened
    assert opened[0]["source"]["prod"] == (
        "stacks/prod.yaml: network.testAccessCidrs; stacks/prod.yaml: network.testAccessPublic; "
        "stacks/template.yaml.j2 (template default): services[name=web].testPort"
    )
