"""Every normalisation rule, on hand-written stacks."""

from __future__ import annotations

from parity.normalise import flatten_stack
from parity.render import SECRET
from tests.unit.parity.helpers import stack

ENVS = ["dev", "staging", "prod"]


def leaves(env: str, inputs: dict[str, object]) -> dict[str, object]:
    flat = flatten_stack(stack(env, {"r": inputs}), ENVS)
    return {k: v for k, v in flat.items() if not k.startswith("r.@")}


def test_environment_names_become_a_token_only_as_whole_words() -> None:
    flat = leaves(
        "prod",
        {
            "name": "shipyard-prod",
            "log": "/shipyard/prod/web",
            "url": "https://prod.example.com/x",
            "listener": "web-production",
            "tags": {"env": "prod", "other": "staging"},
        },
    )
    assert flat == {
        "r.name": "shipyard-{env}",
        "r.log": "/shipyard/{env}/web",
        "r.url": "https://{env}.example.com/x",
        "r.listener": "web-production",
        "r.tags.env": "{env}",
        "r.tags.other": "{env}",
    }


def test_whole_floats_become_ints_and_bools_stay_bools() -> None:
    assert leaves("dev", {"port": 80.0, "ratio": 0.5, "on": True, "count": 3}) == {
        "r.port": 80,
        "r.ratio": 0.5,
        "r.on": True,
        "r.count": 3,
    }
    assert isinstance(leaves("dev", {"on": True})["r.on"], bool)


def test_secrets_compare_by_presence_only() -> None:
    assert leaves("dev", {"token": SECRET}) == leaves("prod", {"token": SECRET})
    assert leaves("dev", {"token": SECRET}) != leaves("prod", {"token": "plain"})


def test_json_in_strings_is_compared_at_its_leaves() -> None:
    flat = leaves("dev", {"policy": '{"Statement": [{"Effect": "Allow"}], "Version": "2012"}'})
    assert flat == {"r.policy.Statement[0].Effect": "Allow", "r.policy.Version": "2012"}


def test_lists_of_named_objects_are_keyed_by_name() -> None:
    flat = leaves("dev", {"env": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}]})
    assert flat == {"r.env[name=A].value": "1", "r.env[name=B].value": "2"}


def test_a_change_of_order_alone_is_no_difference() -> None:
    assert leaves("dev", {"subnets": ["b", "a", "c"], "rules": [{"p": 2}, {"p": 1}]}) == leaves(
        "prod", {"subnets": ["c", "b", "a"], "rules": [{"p": 1}, {"p": 2}]}
    )


def test_resources_are_keyed_by_logical_name_not_position() -> None:
    first = stack("dev", {"a": {"x": 1}, "b": {"x": 2}})
    second = stack("dev", {"b": {"x": 2}, "a": {"x": 1}})
    assert flatten_stack(first, ENVS) == flatten_stack(second, ENVS)
    assert flatten_stack(first, ENVS)["a.@type"] == "aws:x/y:Z"


def test_empty_containers_are_leaves() -> None:
    assert leaves("dev", {"tags": {}, "ids": []}) == {"r.tags": {}, "r.ids": []}
