"""The deployer's least-privilege IAM policy (docs/iam/), as the tests check it."""

from __future__ import annotations

import json
from functools import cache

from tests.conftest import REPO

POLICY = REPO / "docs" / "iam" / "shipyard-deployer-policy.json"
# Granted for calls the code does not make itself: ECS checks iam:PassRole when a task
# definition names an execution or task role, and ecs:TagResource when RegisterTaskDefinition
# carries tags (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/supported-iam-actions-tagging.html).
IMPLIED = frozenset({"iam:PassRole", "ecs:TagResource"})


@cache
def policy_actions() -> frozenset[str]:
    actions: set[str] = set()
    for statement in json.loads(POLICY.read_text(encoding="utf-8"))["Statement"]:
        assert statement["Effect"] == "Allow"
        granted = statement["Action"]
        actions |= {granted} if isinstance(granted, str) else set(granted)
    return frozenset(actions)


def not_granted(actions: set[str]) -> list[str]:
    return sorted(a for a in actions if a not in policy_actions())
