"""Overlay semantics: what an environment file can change, and how."""

from __future__ import annotations

import pytest

from components.network import availability_zones, subnet_cidrs
from shipyard.config.load import merge
from shipyard.config.model import Network
from shipyard.errors import ConfigError

BASE = {
    "region": "us-east-1",
    "network": {"cidr": "10.0.0.0/16", "azCount": 2},
    "services": [
        {"name": "web", "desiredCount": 2, "healthCheck": {"path": "/healthz", "matcher": "200"}},
        {"name": "api", "desiredCount": 2},
    ],
    "deploy": {"trafficSteps": [10, 50, 100]},
    "tls": {"certificateArn": "arn:aws:acm:x"},
}


def test_mappings_merge_key_by_key() -> None:
    merged = merge(BASE, {"network": {"azCount": 3}}, "dev.yaml")
    assert merged["network"] == {"cidr": "10.0.0.0/16", "azCount": 3}


def test_services_merge_by_name_whatever_their_position() -> None:
    merged = merge(
        BASE, {"services": [{"name": "api", "desiredCount": 5}, {"name": "web"}]}, "dev.yaml"
    )
    assert [s["name"] for s in merged["services"]] == ["web", "api"]
    assert merged["services"][1]["desiredCount"] == 5
    assert merged["services"][0] == BASE["services"][0]


def test_nested_service_keys_merge_too() -> None:
    overlay = {"services": [{"name": "web", "healthCheck": {"path": "/ready"}}]}
    merged = merge(BASE, overlay, "dev.yaml")
    assert merged["services"][0]["healthCheck"] == {"path": "/ready", "matcher": "200"}


def test_a_new_service_name_adds_a_service() -> None:
    merged = merge(BASE, {"services": [{"name": "worker", "desiredCount": 1}]}, "dev.yaml")
    assert [s["name"] for s in merged["services"]] == ["web", "api", "worker"]


def test_other_lists_replace_and_null_removes() -> None:
    merged = merge(BASE, {"deploy": {"trafficSteps": [100]}, "tls": None}, "dev.yaml")
    assert merged["deploy"]["trafficSteps"] == [100]
    assert "tls" not in merged


def test_merge_mutates_neither_document() -> None:
    overlay = {"services": [{"name": "web", "desiredCount": 9}], "network": {"azCount": 3}}
    snapshot_base = repr(BASE)
    snapshot_overlay = repr(overlay)
    merge(BASE, overlay, "dev.yaml")
    assert repr(BASE) == snapshot_base
    assert repr(overlay) == snapshot_overlay


def test_a_service_entry_without_a_name_is_an_error_naming_its_index() -> None:
    with pytest.raises(ConfigError) as caught:
        merge(BASE, {"services": [{"name": "web"}, {"desiredCount": 1}]}, "stacks/dev.yaml")
    assert str(caught.value).startswith("stacks/dev.yaml: services[1].name: is required")


def test_subnets_are_carved_in_order_from_the_vpc() -> None:
    assert subnet_cidrs("10.30.0.0/16", 4) == [
        "10.30.0.0/20",
        "10.30.16.0/20",
        "10.30.32.0/20",
        "10.30.48.0/20",
    ]
    assert subnet_cidrs("192.168.1.0/24", 2) == ["192.168.1.0/28", "192.168.1.16/28"]


def test_zones_default_to_the_regions_first_letters() -> None:
    network = Network.model_validate({"cidr": "10.0.0.0/16", "azCount": 3})
    assert availability_zones("eu-west-1", network) == ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    explicit = Network.model_validate(
        {"cidr": "10.0.0.0/16", "azCount": 2, "availabilityZones": ["eu-west-1b", "eu-west-1c"]}
    )
    assert availability_zones("eu-west-1", explicit) == ["eu-west-1b", "eu-west-1c"]
