"""Every normalisation rule, on hand-written stacks."""

from __future__ import annotations

import json
from typing import Any

from parity.normalise import Normaliser, normalise_stack, split_image
from parity.render import SECRET
from shipyard.config.load import StackSources, load_stack
from tests.unit.parity.helpers import ENVS, stack


def leaves(env: str, inputs: dict[str, Any]) -> dict[str, Any]:
    flat = normalise_stack(stack(env, {"r": inputs}), ENVS).leaves
    return {k: v for k, v in flat.items() if not k.startswith("r.@")}


def test_only_the_stacks_own_name_becomes_a_token() -> None:
    stack_ = normalise_stack(
        stack(
            "prod",
            {
                "r": {
                    "name": "shipyard-prod",
                    "log": "/shipyard/prod/web",
                    "url": "https://prod.example.com/x",
                    "listener": "web-production",
                    "tags": {"env": "prod", "other": "staging"},
                }
            },
        ),
        ENVS,
    )
    assert {k: v for k, v in stack_.leaves.items() if "@" not in k} == {
        "r.name": "shipyard-{env}",
        "r.log": "/shipyard/{env}/web",
        "r.url": "https://{env}.example.com/x",
        "r.listener": "web-production",
        "r.tags.env": "{env}",
        "r.tags.other": "staging",
    }
    # The value naming another environment is recorded as a reference, by path.
    assert stack_.references == {"r.tags.other": ["staging"]}


def test_a_longer_environment_name_is_not_mistaken_for_a_shorter_one() -> None:
    envs = ["prod", "prod-eu"]
    flat = normalise_stack(stack("prod", {"r": {"bucket": "logs-prod-eu"}}), envs)
    assert flat.leaves["r.bucket"] == "logs-prod-eu"
    assert flat.references == {"r.bucket": ["prod-eu"]}
    own = normalise_stack(stack("prod-eu", {"r": {"bucket": "logs-prod-eu"}}), envs)
    assert own.leaves["r.bucket"] == "logs-{env}" and own.references == {}


def test_references_are_found_inside_json_keys_and_multiset_items() -> None:
    policy = '{"Statement": [{"Effect": "Allow", "Resource": ["arn:aws:s3:::shipyard-staging/*"]}]}'
    flat = normalise_stack(stack("prod", {"r": {"policy": policy, "m": {"dev-owner": "x"}}}), ENVS)
    assert sorted(flat.references.values()) == [["dev"], ["staging"]]


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


def test_json_in_strings_is_parsed_and_unnamed_items_are_whole_leaves() -> None:
    flat = leaves("dev", {"policy": '{"Statement": [{"Effect": "Allow"}], "Version": "2012"}'})
    assert flat == {
        "r.policy.Statement[Effect=Allow]": {"Effect": "Allow"},
        "r.policy.Version": "2012",
    }


def test_lists_of_objects_are_keyed_by_their_identity_field() -> None:
    flat = leaves(
        "dev",
        {
            "env": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}],
            "actions": [{"type": "forward", "weight": 1}],
            "groups": [{"arn": "arn:tg/x", "weight": 5}, {"arn": "arn:tg/y", "weight": 0}],
        },
    )
    assert flat == {
        "r.env[name=A].value": "1",
        "r.env[name=B].value": "2",
        "r.actions[type=forward].weight": 1,
        "r.groups[arn=arn:tg/x].weight": 5,
        "r.groups[arn=arn:tg/y].weight": 0,
    }


def test_unnamed_lists_are_multisets_and_ordered_lists_keep_positions() -> None:
    assert leaves("dev", {"subnets": ["b", "a", "c"], "rules": [{"p": 2}, {"p": 1}]}) == leaves(
        "prod", {"subnets": ["c", "b", "a"], "rules": [{"p": 1}, {"p": 2}]}
    )
    assert leaves("dev", {"ids": ["a", "a", "b"]}) == {"r.ids[a]": ["a", "a"], "r.ids[b]": "b"}
    assert leaves("dev", {"command": ["run", "--fast"]}) == {
        "r.command[0]": "run",
        "r.command[1]": "--fast",
    }


def test_an_image_is_compared_as_repository_and_tag() -> None:
    assert split_image("123.dkr.ecr.us-east-1.amazonaws.com/web:v2") == {
        "repository": "123.dkr.ecr.us-east-1.amazonaws.com/web",
        "tag": "v2",
    }
    assert split_image("localhost:5000/web") == {"repository": "localhost:5000/web"}
    assert split_image("web@sha256:abc") == {"repository": "web", "digest": "sha256:abc"}
    flat = leaves("dev", {"c": [{"name": "web", "image": "repo/web:v1"}]})
    assert flat == {"r.c[name=web].image.repository": "repo/web", "r.c[name=web].image.tag": "v1"}


def test_resources_are_keyed_by_logical_name_and_carry_type_and_parent() -> None:
    first = normalise_stack(stack("dev", {"a": {"x": 1}, "b": {"x": 2}}), ENVS)
    second = normalise_stack(stack("dev", {"b": {"x": 2}, "a": {"x": 1}}), ENVS)
    assert first.leaves == second.leaves
    assert first.leaves["a.@resource"] == "aws:x/y:Z"


def test_empty_containers_are_leaves() -> None:
    assert leaves("dev", {"tags": {}, "ids": []}) == {"r.tags": {}, "r.ids": []}


def test_settings_are_properties_and_tags_count_once_per_key() -> None:
    flat = normalise_stack(
        stack("dev", {"r": {"hc": {"path": "/", "port": 80}, "tags": {"team": "a"}}}), ENVS
    )
    assert flat.settings == {
        "r.@resource": "r.@resource",
        "r.hc.path": "r.hc",
        "r.hc.port": "r.hc",
        "r.tags.team": "@tags.team",
    }
    assert flat.resource_settings["r.tags.team"] == "r.tags"


def test_colors_become_roles_and_the_stack_config_is_a_pseudo_resource(
    repo_sources: StackSources, rendered: dict[str, Any]
) -> None:
    # dev runs web on green, staging on blue: both name web's live color `live`.
    dev = normalise_stack(rendered["dev"], ENVS, load_stack(repo_sources, "dev"))
    staging = normalise_stack(rendered["staging"], ENVS, load_stack(repo_sources, "staging"))
    assert dev.names["web-live-tg"] == "web-green-tg"
    assert staging.names["web-live-tg"] == "web-blue-tg"
    assert dev.tree["web-live-service"]["desiredCount"] == 1
    assert staging.tree["web-live-service"]["desiredCount"] == 2
    assert dev.tree["web-idle-service"]["desiredCount"] == 0
    assert dev.leaves["stack-config.services[name=web].activeColor"] == "live"
    assert dev.leaves["stack-config.deploy.approvals.required"] == 0
    assert dev.settings["stack-config.deploy.approvals.required"] == "stack-config.deploy.approvals"
    assert (
        dev.settings["stack-config.services[name=web].healthCheck.path"]
        == "stack-config.services[name=web].healthCheck"
    )
    assert dev.leaves["stack-outputs.services.web.weights.live"] == 100
    assert dev.references == {} and staging.references == {}


def test_a_service_named_like_an_environment_or_a_color_is_kept_whole() -> None:
    roles = {"dev-portal": {"blue": "live", "green": "idle"}, "blue-api": {"green": "live"}}
    norm = Normaliser("prod", ENVS, roles, keep=["blue-api-green-tg"])
    assert norm.text("shipyard-prod-dev-portal") == "shipyard-{env}-dev-portal"
    assert norm.others_named("shipyard-prod-dev-portal") == set()
    assert norm.others_named("shipyard-dev-portal-dev") == {"dev"}
    assert norm.text("blue-api-green-tg", "blue-api") == "blue-api-live-tg"


def test_only_the_programs_own_color_words_become_roles() -> None:
    roles = {"web": {"blue": "live", "green": "idle"}}
    # The program's logical names tell what it appends after a color.
    norm = Normaliser("prod", ENVS, roles, keep=["web-blue-tg", "web-alarms-green-5xx"])
    # Names the program builds from the service and its color, and its color fields.
    assert norm.text("prod-web-blue", "web") == "{env}-web-live"
    assert (
        norm.text("shipyard-prod-web-alarms-green-5xx", "web")
        == "shipyard-{env}-web-alarms-idle-5xx"
    )
    assert (
        norm.text("web green: HTTPCode_Target_5XX_Count", "web")
        == "web idle: HTTPCode_Target_5XX_Count"
    )
    assert norm.value({"shipyard:color": "blue"}, "web") == {"shipyard:color": "live"}
    assert norm.value([{"name": "SHIPYARD_COLOR", "value": "green"}], "web") == {
        "[name=SHIPYARD_COLOR]": {"value": "idle"}
    }
    assert norm.value({"blue": 100, "green": 0}, "web") == {"live": 100, "idle": 0}
    # A user's own words stay as written: a repository, a path, a theme, a bucket.
    assert norm.text("123.dkr.ecr/green", "web") == "123.dkr.ecr/green"
    assert norm.text("web-blue-assets", "web") == "web-blue-assets"
    assert norm.value({"THEME": "blue", "path": "/blue"}, "web") == {
        "THEME": "blue",
        "path": "/blue",
    }


def test_references_are_found_however_they_are_spelled() -> None:
    norm = Normaliser("prod", ENVS)
    for spelled in (
        "STAGING",
        "db.Staging.internal",
        "readFromStagingReplica",
        "https://x/?env=shipyard%2Fstaging%2Fweb",
        "ｓｔａｇｉｎｇ",  # full-width
        "stag\u200bing",
    ):
        assert norm.others_named(spelled) == {"staging"}, spelled
    assert norm.others_named("fromSTAGINGReplica") == {"staging"}
    assert norm.others_named("%2573taging") == {"staging"}
    for innocent in (
        "production",
        "/dev/stdout",
        "/dev/log",
        "us-east-1a",
        "devices",
        "Staged",
        "--ignore devDependencies",
    ):
        assert norm.others_named(innocent) == set(), innocent
    # A region-shaped name is no region: es-staging-1 names staging.
    assert norm.others_named("https://es-staging-1.internal:9200") == {"staging"}
    # Keys count only as written: a variable's name is not a reference.
    assert norm.others_named("DISABLE_DEV_TOOLS", key=True) == set()
    assert norm.others_named("testPort", key=True) == set()
    assert norm.others_named("staging-owner", key=True) == {"staging"}


def test_a_literal_env_token_is_not_the_environments_name() -> None:
    dev = Normaliser("dev", ENVS).text("/logs/{env}/app")
    prod = Normaliser("prod", ENVS).text("/logs/prod/app")
    assert prod == "/logs/{env}/app" and dev != prod


def test_json_inside_a_variable_stays_a_string() -> None:
    flat = leaves(
        "dev",
        {
            "c": json.dumps(
                [{"name": "web", "environment": [{"name": "HOSTS", "value": '["b", "a"]'}]}]
            )
        },
    )
    assert flat == {"r.c[name=web].environment[name=HOSTS].value": '["b", "a"]'}
