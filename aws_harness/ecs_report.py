"""What ECS reports about a color's service: its counts and deployments, from what really
runs (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Deployment.html)."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aws_harness.tasks import Task


def report(service: Any, live: list[Task], definition: str, count: int) -> None:
    """Set moto's service (`runningCount`, `pendingCount`, deployments) from the tasks `live`:
    a PRIMARY deployment of `definition`, COMPLETED once its `count` tasks are healthy and no
    other revision runs, beside an ACTIVE one per older revision still running."""
    running = [t for t in live if t.state != "pending"]
    new = [t for t in live if t.definition == definition and t.state != "draining"]
    old = sorted({t.definition for t in live if t.definition != definition})
    done = len(new) == count and all(t.health == "healthy" for t in new) and not old
    deployments = [
        deployment(definition, "PRIMARY", count, new, "COMPLETED" if done else "IN_PROGRESS")
    ]
    deployments += [
        deployment(arn, "ACTIVE", 0, [t for t in live if t.definition == arn], "") for arn in old
    ]
    service.running_count = len(running)
    service.pending_count = len(live) - len(running)
    service.deployments = deployments


def deployment(
    definition: str, status: str, desired: int, tasks: list[Task], rollout: str
) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    running = sum(1 for t in tasks if t.state != "pending")
    found: dict[str, Any] = {
        "id": "ecs-svc/" + hashlib.sha256(definition.encode()).hexdigest()[:16],
        "status": status,
        "taskDefinition": definition,
        "desiredCount": desired,
        "runningCount": running,
        "pendingCount": len(tasks) - running,
        "failedTasks": 0,
        "createdAt": now,
        "updatedAt": now,
        "launchType": "FARGATE",
    }
    if rollout:
        found["rolloutState"] = rollout
    return found
