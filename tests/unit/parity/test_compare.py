"""Classification and scores on stacks small enough to work out by hand."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from parity.compare import Classification, compare
from parity.judge import RuleState, names_a_property
from parity.policy import ParityPolicy
from tests.unit.parity.helpers import normalised

TODAY = dt.date(2026, 11, 28)

# Settings: a.@resource, a.port, a.protocol (identical: 80.0 is 80); b.@resource (identical),
# b.desiredCount (differs); c.@resource and c.x (prod only). 7 settings, 4 identical.
STACKS = normalised(
    {
        "dev": {"a": {"port": 80, "protocol": "HTTP"}, "b": {"desiredCount": 1}},
        "prod": {
            "a": {"port": 80.0, "protocol": "HTTP"},
            "b": {"desiredCount": 2},
            "c": {"x": "y"},
        },
    }
)


def policy(**doc: Any) -> ParityPolicy:
    return ParityPolicy.model_validate(doc)


def classes(result: Any) -> dict[str, str]:
    return {r.path: r.classification.value for r in result.differences}


def test_hand_computed_score_without_rules() -> None:
    result = compare(STACKS, policy(), TODAY)
    assert classes(result) == {
        "b.desiredCount": "undeclared",
        "c.@resource": "missing",
        "c.x": "missing",
    }
    assert (result.overall.total, result.overall.identical, result.overall.undeclared) == (7, 4, 3)
    assert result.overall.score == pytest.approx(57.14)
    assert result.overall.raw_identity == result.overall.score


def test_hand_computed_score_with_declared_differences() -> None:
    rules = [
        {"path": "b.desiredCount", "ratio": {"dev": 1, "prod": 2}, "reason": "r", "owner": "o"},
        {"path": "c.*", "any": True, "reason": "prod only", "owner": "o"},
    ]
    result = compare(STACKS, policy(rules=rules), TODAY)
    assert result.overall.declared == 3
    assert result.overall.score == 100.0
    assert result.overall.raw_identity == pytest.approx(57.14)
    declared = {r.path: r.reason for r in result.differences}
    assert declared["c.x"] == "prod only"


def test_a_setting_counts_once_however_many_leaves_differ() -> None:
    stacks = normalised(
        {
            "dev": {"tg": {"hc": {"path": "/a", "port": 1, "matcher": "200"}, "port": 80}},
            "prod": {"tg": {"hc": {"path": "/b", "port": 2, "matcher": "201"}, "port": 80}},
        }
    )
    result = compare(stacks, policy(), TODAY)
    assert len(result.differences) == 3
    # tg.@resource, tg.hc, tg.port: one undeclared setting of three.
    assert (result.overall.total, result.overall.undeclared) == (3, 1)


def test_a_tag_on_every_resource_is_one_setting() -> None:
    def resources(tags: dict[str, str]) -> dict[str, dict[str, Any]]:
        return {f"r{i}": {"port": 80, "tags": tags} for i in range(10)}

    stacks = normalised(
        {"dev": resources({"team": "a"}), "prod": resources({"team": "a", "cost": "42"})}
    )
    result = compare(stacks, policy(), TODAY)
    assert len(result.differences) == 10  # listed on every resource that carries it
    # 10 x (@resource, port) + @tags.team + @tags.cost = 22 settings, one undeclared.
    assert (result.overall.total, result.overall.undeclared) == (22, 1)


def test_one_added_rule_in_an_unnamed_list_is_one_difference() -> None:
    rule = {"cidrBlocks": ["0.0.0.0/0"], "protocol": "tcp"}
    dev = [{**rule, "fromPort": 80, "toPort": 80}, {**rule, "fromPort": 9000, "toPort": 9000}]
    prod = [{**rule, "fromPort": 443, "toPort": 443}, *dev]
    stacks = normalised({"dev": {"sg": {"ingress": dev}}, "prod": {"sg": {"ingress": prod}}})
    result = compare(stacks, policy(), TODAY)
    assert classes(result) == {
        'sg.ingress[cidrBlocks=["0.0.0.0/0"],fromPort=443,protocol=tcp,toPort=443]': "missing"
    }


def test_a_changed_port_is_not_excused_by_a_rule_for_another_item() -> None:
    rule = {"cidrBlocks": ["0.0.0.0/0"], "protocol": "tcp"}
    dev = [{**rule, "fromPort": 80, "toPort": 80}, {**rule, "fromPort": 9000, "toPort": 9000}]
    prod = [
        {**rule, "fromPort": 443, "toPort": 443},
        dev[0],
        {**rule, "fromPort": 9002, "toPort": 9002},
    ]
    stacks = normalised({"dev": {"sg": {"ingress": dev}}, "prod": {"sg": {"ingress": prod}}})
    tls = {
        "path": "sg.ingress[*fromPort=443,*]",
        "values": {"dev": None},
        "reason": "TLS",
        "owner": "o",
    }
    result = compare(stacks, policy(rules=[tls]), TODAY)
    assert sorted(classes(result).values()) == ["declared", "missing", "missing"]
    open_ = [r.path for r in result.differences if not r.classification.matches]
    assert [p.split("fromPort=")[1][:4] for p in sorted(open_)] == ["9000", "9002"]


def test_pairwise_scores_are_worked_out_per_pair() -> None:
    three = normalised(
        {
            "dev": {"a": {"v": 1, "w": 1}},
            "staging": {"a": {"v": 1, "w": 2}},
            "prod": {"a": {"v": 2, "w": 2}},
        }
    )
    # 3 settings: a.@resource identical; v (1,1,2) and w (1,2,2) undeclared.
    result = compare(three, policy(), TODAY)
    assert result.overall.score == pytest.approx(33.33)
    assert {pair: tally.score for pair, tally in result.pairs.items()} == {
        ("dev", "staging"): pytest.approx(66.67),
        ("dev", "prod"): pytest.approx(33.33),
        ("staging", "prod"): pytest.approx(66.67),
    }


def test_editing_prod_does_not_move_the_dev_staging_score() -> None:
    rule = {
        "path": "a.level",
        "values": {"dev": "debug", "staging": "info", "prod": "info"},
        "reason": "debug in dev",
        "owner": "o",
    }

    def run(prod_level: str) -> Any:
        stacks = normalised(
            {
                "dev": {"a": {"level": "debug"}},
                "staging": {"a": {"level": "info"}},
                "prod": {"a": {"level": prod_level}},
            }
        )
        return compare(stacks, policy(rules=[rule]), TODAY)

    good, edited = run("info"), run("warn")
    assert edited.overall.undeclared == 1 and good.overall.undeclared == 0
    assert edited.pairs[("dev", "staging")] == good.pairs[("dev", "staging")]
    assert edited.pairs[("staging", "prod")].undeclared == 1


def test_per_resource_scores() -> None:
    result = compare(STACKS, policy(), TODAY)
    scores = {name: info.tally.score for name, info in result.resources.items()}
    assert scores == {"a": 100.0, "b": 50.0, "c": 0.0}
    assert result.resources["c"].present == {"dev": False, "prod": True}


def test_no_settings_means_no_score() -> None:
    result = compare(normalised({"dev": {}, "prod": {}}), policy(), TODAY)
    assert result.overall.score is None
    assert result.overall.raw_identity is None


def test_a_value_naming_another_environment_is_critical_even_where_a_rule_allows_any() -> None:
    stacks = normalised(
        {
            "staging": {"web": {"APP_ENV": "staging", "port": 80}},
            "prod": {"web": {"APP_ENV": "staging", "port": 80}},
        }
    )
    anything = {"path": "web.*", "any": True, "reason": "r", "owner": "o"}
    result = compare(stacks, policy(rules=[anything]), TODAY)
    (difference,) = result.differences
    assert difference.path == "web.APP_ENV"
    assert difference.values == {"staging": "{env}", "prod": "staging"}
    assert difference.classification is Classification.UNDECLARED
    assert difference.critical and difference.references == {"prod": ["staging"]}
    assert difference.reason is not None and difference.reason.startswith("prod names staging")
    assert result.critical_failures == [difference]


def test_a_reference_shared_by_every_compared_environment_is_still_caught() -> None:
    # dev and prod both read staging's value: equal to each other, named all the same.
    stacks = normalised(
        {"dev": {"w": {"db": "db.staging.internal"}}, "prod": {"w": {"db": "db.staging.internal"}}}
    )
    result = compare(stacks, policy(), TODAY)
    assert [r.path for r in result.critical_failures] == ["w.db"]
    assert result.overall.undeclared == 1


def test_an_allowance_allows_the_reference_and_a_rule_still_judges_the_values() -> None:
    stacks = normalised(
        {
            "dev": {"w": {"upstream": "https://attacker.example.net"}},
            "staging": {"w": {"upstream": "https://api.prod.example.com"}},
            "prod": {"w": {"upstream": "https://api.{env}.example.com"}},
        }
    )
    allowance = {
        "path": "w.upstream",
        "environment": "staging",
        "references": ["prod"],
        "reason": "staging replays against prod's read-only API",
        "owner": "api-team",
    }
    rule = {
        "path": "w.upstream",
        "values": {"dev": "https://api.{env}.example.com", "prod": "https://api.{env}.example.com"},
        "reason": "only staging replays",
        "owner": "api-team",
    }
    # The allowance alone: the reference is fine, the difference is not declared, and a path
    # naming another environment is critical until it is.
    alone = compare(stacks, policy(crossEnvironment=[allowance]), TODAY)
    (difference,) = alone.differences
    assert difference.classification is Classification.UNDECLARED
    assert difference.critical and alone.critical_failures == [difference]
    # With a rule for the values: dev's stray value breaks it.
    both = compare(stacks, policy(crossEnvironment=[allowance], rules=[rule]), TODAY)
    assert both.differences[0].classification is Classification.UNDECLARED
    assert both.differences[0].reason is not None
    assert both.differences[0].reason.startswith("rule broken")
    fixed = normalised(
        {
            "dev": {"w": {"upstream": "https://api.dev.example.com"}},
            "staging": {"w": {"upstream": "https://api.prod.example.com"}},
            "prod": {"w": {"upstream": "https://api.prod.example.com"}},
        }
    )
    good = compare(fixed, policy(crossEnvironment=[allowance], rules=[rule]), TODAY)
    assert [d.classification for d in good.differences] == [Classification.DECLARED]
    assert [r.state for r in good.rules] == [RuleState.ACTIVE, RuleState.ACTIVE]
    assert good.rules[1].relation == "staging may name prod"
    for wrong in ({"environment": "dev"}, {"references": ["dev"]}, {"path": "w.other"}):
        result = compare(fixed, policy(crossEnvironment=[{**allowance, **wrong}]), TODAY)
        assert [r.path for r in result.critical_failures] == ["w.upstream"], wrong
        assert result.rules[0].state is RuleState.STALE


def many(prod_edits: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """30 resources `r00`..`r29` with a port and a health check path; prod's edited."""
    base = {f"r{i:02d}": {"port": 80, "hc": {"path": "/healthz"}} for i in range(30)}
    return normalised({"dev": base, "prod": {**base, **prod_edits}})


def test_a_catch_all_rule_declares_nothing_and_says_so() -> None:
    stacks = many({"r00": {"port": 81, "hc": {"path": "/healthz"}}})
    rules = [{"path": "*", "any": True, "reason": "everything", "owner": "o"}]
    result = compare(stacks, policy(rules=rules), TODAY)
    assert result.overall.score == compare(stacks, policy(), TODAY).overall.score
    (report,) = result.catch_alls
    assert report.state is RuleState.CATCH_ALL
    assert "declares nothing" in report.detail
    # `*[*`-like tricks are judged by what they match, not by how they look: r0* matches r00 to
    # r09, a third of the stack.
    broad = compare(stacks, policy(rules=[{**rules[0], "path": "r0*"}]), TODAY)
    assert [r.path for r in broad.catch_alls] == ["r0*"]
    # A rule for what differs is not a catch-all.
    narrow = compare(stacks, policy(rules=[{**rules[0], "path": "r00.port"}]), TODAY)
    assert narrow.catch_alls == [] and narrow.overall.undeclared == 0


def test_rules_that_together_cover_most_of_the_stack_are_reported() -> None:
    stacks = many({"r00": {"port": 81, "hc": {"path": "/healthz"}}})
    rules = [{"path": f"r{i:02d}.*", "any": True, "reason": "r", "owner": "o"} for i in range(16)]
    result = compare(stacks, policy(rules=rules), TODAY)
    assert result.catch_alls == []
    assert result.policy_too_broad and result.policy_share > 0.5
    assert not compare(stacks, policy(rules=rules[:10]), TODAY).policy_too_broad


def test_a_critical_path_is_declared_only_by_a_rule_naming_its_property() -> None:
    stacks = many({"r00": {"port": 80, "hc": {"path": "/health"}}})
    vague = {"path": "r00*", "any": True, "reason": "r00 may differ", "owner": "o"}
    result = compare(stacks, policy(critical=["*.hc.*"], rules=[vague]), TODAY)
    (difference,) = result.critical_failures
    assert difference.reason is not None and "does not name this property" in difference.reason
    named = {**vague, "path": "r00.hc.path"}
    assert (
        compare(stacks, policy(critical=["*.hc.*"], rules=[named]), TODAY).critical_failures == []
    )


def test_a_values_rule_is_checked_where_the_values_are_identical() -> None:
    # The rule says prod serves HTTPS; prod lost its TLS and now equals dev.
    stacks = normalised({"dev": {"l": {"protocol": "HTTP"}}, "prod": {"l": {"protocol": "HTTP"}}})
    rule = {
        "path": "l.protocol",
        "values": {"dev": "HTTP", "prod": "HTTPS"},
        "reason": "only prod has a certificate",
        "owner": "o",
    }
    result = compare(stacks, policy(rules=[rule]), TODAY)
    (difference,) = result.differences
    assert difference.classification is Classification.UNDECLARED
    assert difference.reason is not None and difference.reason.startswith("rule broken")
    assert result.rules[0].state is RuleState.BROKEN
    assert result.pairs[("dev", "prod")].undeclared == 1


@pytest.mark.parametrize(
    ("relation", "values", "declared"),
    [
        ({"any": True}, (1, 7), True),
        ({"oneOf": [1, 2]}, (1, 2), True),
        ({"oneOf": [1, 2]}, (1, 3), False),
        ({"ratio": {"dev": 1, "prod": 2}}, (3, 6), True),
        ({"ratio": {"dev": 1, "prod": 2}}, (3, 5), False),
        ({"ratio": {"dev": 1, "prod": 2}}, (3, "6"), False),
        ({"values": {"dev": "HTTP", "prod": "HTTPS"}}, ("HTTP", "HTTPS"), True),
        ({"values": {"dev": "HTTP", "prod": "HTTPS"}}, ("HTTPS", "HTTP"), False),
        ({"values": {"prod": 4}}, (1, 4.0), True),
    ],
)
def test_each_relation_kind(
    relation: dict[str, Any], values: tuple[Any, Any], declared: bool
) -> None:
    stacks = normalised({"dev": {"r": {"n": values[0]}}, "prod": {"r": {"n": values[1]}}})
    rule = {"path": "r.n", "reason": "why", "owner": "team", **relation}
    result = compare(stacks, policy(rules=[rule]), TODAY)
    (difference,) = result.differences
    expected = Classification.DECLARED if declared else Classification.UNDECLARED
    assert difference.classification is expected
    assert result.rules[0].state is (RuleState.ACTIVE if declared else RuleState.BROKEN)
    if not declared:
        assert difference.reason is not None and difference.reason.startswith("rule broken (")


def test_a_string_and_a_number_are_different_values() -> None:
    stacks = normalised({"dev": {"t": {"cpu": "512"}}, "prod": {"t": {"cpu": 512}}})
    assert classes(compare(stacks, policy(), TODAY)) == {"t.cpu": "undeclared"}


def test_values_null_declares_a_path_absent() -> None:
    stacks = normalised({"dev": {"r": {"x": 1}}, "prod": {"r": {"x": 1, "cert": "arn:aws:acm:x"}}})
    rule = {"path": "r.cert", "values": {"dev": None}, "reason": "TLS in prod", "owner": "o"}
    result = compare(stacks, policy(rules=[rule]), TODAY)
    assert [d.classification for d in result.differences] == [Classification.DECLARED]


def test_a_missing_path_not_allowed_by_its_rule_stays_missing() -> None:
    stacks = normalised({"dev": {"r": {"x": 1}}, "prod": {"r": {"x": 1, "n": 1}}})
    rule = {"path": "r.n", "oneOf": [1], "reason": "why", "owner": "o"}
    result = compare(stacks, policy(rules=[rule]), TODAY)
    assert [d.classification for d in result.differences] == [Classification.MISSING]


def test_an_expired_rule_declares_nothing() -> None:
    stacks = normalised({"dev": {"r": {"n": 1}}, "prod": {"r": {"n": 2}}})
    rule = {"path": "r.n", "any": True, "reason": "temp", "owner": "o", "expires": "2026-11-27"}
    result = compare(stacks, policy(rules=[rule]), TODAY)
    (difference,) = result.differences
    assert difference.classification is Classification.UNDECLARED
    assert difference.reason == "rule expired on 2026-11-27: temp"
    assert result.rules[0].state is RuleState.EXPIRED
    # The day it expires it still holds.
    still = compare(stacks, policy(rules=[{**rule, "expires": "2026-11-28"}]), TODAY)
    assert still.differences[0].classification is Classification.DECLARED


def test_a_rule_matching_nothing_is_stale() -> None:
    rules = [
        {"path": "nothing.*", "any": True, "reason": "old", "owner": "o"},
        {"path": "a.port", "any": True, "reason": "no longer differs", "owner": "o"},
    ]
    result = compare(STACKS, policy(rules=rules), TODAY)
    assert [r.state for r in result.rules] == [RuleState.STALE, RuleState.STALE]


def test_first_matching_rule_wins() -> None:
    rules = [
        {"path": "b.*", "values": {"prod": 3}, "reason": "first", "owner": "o"},
        {"path": "b.desiredCount", "any": True, "reason": "second", "owner": "o"},
    ]
    result = compare(STACKS, policy(rules=rules), TODAY)
    b = next(r for r in result.differences if r.path == "b.desiredCount")
    assert b.classification is Classification.UNDECLARED
    assert b.rule is not None and b.rule.reason == "first"


def test_critical_paths_fail_only_when_not_declared() -> None:
    critical = policy(critical=["b.*", "a.*"])
    result = compare(STACKS, critical, TODAY)
    assert [r.path for r in result.critical_failures] == ["b.desiredCount"]
    declared = policy(
        critical=["b.*"],
        rules=[{"path": "b.desiredCount", "any": True, "reason": "ok", "owner": "o"}],
    )
    assert compare(STACKS, declared, TODAY).critical_failures == []


def test_globs_treat_brackets_literally() -> None:
    stacks = normalised(
        {
            "dev": {"t": {"env": [{"name": "LOG", "value": "debug"}]}},
            "prod": {"t": {"env": [{"name": "LOG", "value": "info"}]}},
        }
    )
    rule = {"path": "*[name=LOG].value", "any": True, "reason": "r", "owner": "o"}
    result = compare(stacks, policy(rules=[rule]), TODAY)
    assert result.differences[0].path == "t.env[name=LOG].value"
    assert result.differences[0].classification is Classification.DECLARED


@pytest.mark.parametrize(
    ("rule", "path", "setting", "names"),
    [
        (
            "stack-config.deploy.*",
            "stack-config.deploy.bakeSeconds",
            "stack-config.deploy.bakeSeconds",
            False,
        ),
        (
            "stack-config.deploy.bakeSeconds",
            "stack-config.deploy.bakeSeconds",
            "stack-config.deploy.bakeSeconds",
            True,
        ),
        ("w*", "web-live-tg.healthCheck.path", "web-live-tg.healthCheck", False),
        ("*[*", "web-live-tg.healthCheck.path", "web-live-tg.healthCheck", False),
        ("*-tg.healthCheck.*", "web-live-tg.healthCheck.path", "web-live-tg.healthCheck", True),
        (
            "*UPSTREAM*",
            "api-live-task.containerDefinitions[name=api].environment[name=UPSTREAM].value",
            "api-live-task.containerDefinitions",
            True,
        ),
        (
            "*[name=*",
            "api-live-task.containerDefinitions[name=api].environment[name=UPSTREAM].value",
            "api-live-task.containerDefinitions",
            False,
        ),
    ],
)
def test_a_critical_rule_must_name_the_setting_or_below(
    rule: str, path: str, setting: str, names: bool
) -> None:
    assert names_a_property(rule, path, setting) is names


def test_padding_the_stack_with_tags_does_not_make_a_broad_rule_narrow() -> None:
    tags = {f"pad-{i:04d}": "x" for i in range(1000)}
    base = {f"r{i:02d}": {"port": 80, "tags": tags} for i in range(30)}
    stacks = normalised({"dev": base, "prod": {**base, "r00": {"port": 81, "tags": tags}}})
    rule = {"path": "r0*", "any": True, "reason": "r", "owner": "o"}
    assert [r.path for r in compare(stacks, policy(rules=[rule]), TODAY).catch_alls] == ["r0*"]
