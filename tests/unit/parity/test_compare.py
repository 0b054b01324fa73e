"""Classification and scores on stacks small enough to work out by hand."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from parity.compare import Classification, RuleState, compare
from parity.normalise import flatten_stack
from parity.policy import ParityPolicy
from tests.unit.parity.helpers import stack

TODAY = dt.date(2026, 11, 28)
ENVS = ["dev", "prod"]


def flat(resources_by_env: dict[str, dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    envs = list(resources_by_env)
    return {env: flatten_stack(stack(env, res), envs) for env, res in resources_by_env.items()}


# Per environment: A is identical (4 paths: @type, @parent, port, protocol); B differs in one
# of its 3 paths (@type, @parent, desiredCount); C exists only in prod (3 paths, all missing in
# dev). 10 paths: 6 equal, 1 undeclared, 3 missing.
STACKS = flat(
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
    return {
        r.path: r.classification.value for r in result.results if r.classification.value != "equal"
    }


def test_hand_computed_score_without_rules() -> None:
    result = compare(STACKS, policy(), TODAY)
    assert classes(result) == {
        "b.desiredCount": "undeclared",
        "c.@type": "missing",
        "c.@parent": "missing",
        "c.x": "missing",
    }
    assert result.overall.total == 10
    assert result.overall.score == 60.0
    assert result.overall.raw_identity == result.overall.score


def test_hand_computed_score_with_declared_differences() -> None:
    rules = [
        {"path": "b.desiredCount", "ratio": {"dev": 1, "prod": 2}, "reason": "r", "owner": "o"},
        {"path": "c.*", "any": True, "reason": "prod only", "owner": "o"},
    ]
    result = compare(STACKS, policy(rules=rules), TODAY)
    assert result.overall.declared == 4
    assert result.overall.score == 100.0
    assert result.overall.raw_identity == 60.0
    declared = {r.path: r.reason for r in result.differences}
    assert declared["c.x"] == "prod only"


def test_pairwise_scores_are_worked_out_per_pair() -> None:
    three = flat(
        {
            "dev": {"a": {"v": 1, "w": 1}},
            "staging": {"a": {"v": 1, "w": 2}},
            "prod": {"a": {"v": 2, "w": 2}},
        }
    )
    # 4 paths: @type, @parent equal; v (1,1,2) and w (1,2,2) undeclared.
    result = compare(three, policy(), TODAY)
    assert result.overall.score == 50.0
    # dev~staging: v equal, w differs -> 3/4; staging~prod: w equal, v differs -> 3/4;
    # dev~prod: both differ -> 2/4.
    assert {pair: tally.score for pair, tally in result.pairs.items()} == {
        ("dev", "staging"): 75.0,
        ("dev", "prod"): 50.0,
        ("staging", "prod"): 75.0,
    }


def test_per_resource_scores() -> None:
    result = compare(STACKS, policy(), TODAY)
    scores = {name: info["tally"].score for name, info in result.resources.items()}
    assert scores == {"a": 100.0, "b": pytest.approx(66.67), "c": 0.0}
    assert result.resources["c"]["present"] == {"dev": False, "prod": True}


def test_no_paths_means_no_score() -> None:
    result = compare({"dev": {}, "prod": {}}, policy(), TODAY)
    assert result.overall.score is None
    assert result.overall.raw_identity is None


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
    stacks = flat({"dev": {"r": {"n": values[0]}}, "prod": {"r": {"n": values[1]}}})
    rule = {"path": "r.n", "reason": "why", "owner": "team", **relation}
    result = compare(stacks, policy(rules=[rule]), TODAY)
    (difference,) = result.differences
    expected = Classification.DECLARED if declared else Classification.UNDECLARED
    assert difference.classification is expected
    assert result.rules[0].state is (RuleState.ACTIVE if declared else RuleState.BROKEN)
    if not declared:
        assert difference.reason is not None and difference.reason.startswith("rule broken (")


def test_values_null_declares_a_path_absent() -> None:
    stacks = flat({"dev": {"r": {}}, "prod": {"r": {"cert": "arn:aws:acm:x"}}})
    rule = {"path": "r.cert", "values": {"dev": None}, "reason": "TLS in prod", "owner": "o"}
    result = compare(stacks, policy(rules=[rule]), TODAY)
    # dev's empty inputs flatten to nothing; r.cert is absent there.
    assert [d.classification for d in result.differences] == [Classification.DECLARED]


def test_a_missing_path_not_allowed_by_its_rule_stays_missing() -> None:
    stacks = flat({"dev": {"r": {}}, "prod": {"r": {"n": 1}}})
    rule = {"path": "r.n", "oneOf": [1], "reason": "why", "owner": "o"}
    result = compare(stacks, policy(rules=[rule]), TODAY)
    assert [d.classification for d in result.differences] == [Classification.MISSING]


def test_an_expired_rule_declares_nothing() -> None:
    stacks = flat({"dev": {"r": {"n": 1}}, "prod": {"r": {"n": 2}}})
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
    stacks = flat(
        {
            "dev": {"t": {"env": [{"name": "LOG", "value": "debug"}]}},
            "prod": {"t": {"env": [{"name": "LOG", "value": "info"}]}},
        }
    )
    rule = {"path": "*[name=LOG].value", "any": True, "reason": "r", "owner": "o"}
    result = compare(stacks, policy(rules=[rule]), TODAY)
    assert result.differences[0].path == "t.env[name=LOG].value"
    assert result.differences[0].classification is Classification.DECLARED
