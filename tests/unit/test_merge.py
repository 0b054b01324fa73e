"""Overlay semantics: what an environment file can change, and how."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from components.network import availability_zones, subnet_cidrs
from shipyard.config.load import merge
from shipyard.config.model import Network
from shipyard.errors import ConfigError
from tests.conftest import container_ids

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


def test_merge_changes_neither_input_and_shares_no_node_with_them() -> None:
    check = {"path": "/healthz", "matcher": "200", "codes": [200]}
    flags = {"FEATURE_X": "on"}
    base: dict[str, Any] = {
        "services": [
            {"name": "web", "healthCheck": check, "environment": {"LOG_LEVEL": "info"}},
            {"name": "api", "healthCheck": check},
        ],
        "tags": {"team": "web", "cost": "1"},
    }
    overlay: dict[str, Any] = {
        "services": [
            {"name": "web", "healthCheck": {"path": "/ready", "codes": None}, "environment": flags},
            {"name": "api", "environment": flags},
            {"name": "worker", "healthCheck": check},
        ],
        "tags": {"cost": None},
        "deploy": {"trafficSteps": [100]},
    }
    base_before, overlay_before = copy.deepcopy(base), copy.deepcopy(overlay)

    merged = merge(base, overlay, "prod.yaml")

    assert base == base_before and overlay == overlay_before
    assert base["services"][0]["healthCheck"] is base["services"][1]["healthCheck"]
    web, api, worker = merged["services"]
    assert web["healthCheck"] == {"path": "/ready", "matcher": "200"}
    assert api["healthCheck"] == worker["healthCheck"] == check
    assert web["environment"] == {"LOG_LEVEL": "info", "FEATURE_X": "on"}
    assert api["environment"] == flags
    assert merged["tags"] == {"team": "web"}
    inside = container_ids(merged)
    assert len(inside) == len(set(inside)), "a node appears twice in the merged document"
    assert not set(inside) & set(container_ids(base) + container_ids(overlay))


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
