"""Fleet on ECS: one service per color; a version is a new revision of the color's task
definition with the image tag changed."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from shipyard.aws import MissingResource
from shipyard.config.model import Color

TargetsHealthy = Callable[[Color], bool]


class EcsFleet:
    def __init__(
        self,
        ecs: Any,
        cluster: str,
        services: Mapping[Color, str],
        desired_count: int,
        idle_count: int = 0,
        targets_healthy: TargetsHealthy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        environment: str | None = None,
    ) -> None:
        self.environment = environment
        self.ecs = ecs
        self.cluster = cluster
        self.services = dict(services)
        self.desired_count = desired_count
        self.idle_count = idle_count
        self.targets_healthy = targets_healthy or (lambda color: True)
        self.sleep = sleep

    def _service(self, color: Color) -> dict[str, Any]:
        found = self.ecs.describe_services(cluster=self.cluster, services=[self.services[color]])
        services = [s for s in found["services"] if s.get("status") != "INACTIVE"]
        if not services:
            reasons = ", ".join(f.get("reason", "?") for f in found.get("failures", []))
            raise MissingResource(
                f"ECS service {self.services[color]} not found in cluster {self.cluster} "
                f"({reasons or 'inactive'}): run `pulumi up -s {self.environment or 'ENV'}`, "
                "then retry",
                "ecs:DescribeServices",
                "MISSING",
            )
        return dict(services[0])

    def _task(self, arn: str) -> dict[str, Any]:
        return dict(self.ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"])

    def versions(self) -> dict[Color, str | None]:
        versions: dict[Color, str | None] = {}
        for color in Color:
            service = self._service(color)
            if not service.get("desiredCount"):
                versions[color] = None
                continue
            image = self._task(service["taskDefinition"])["containerDefinitions"][0]["image"]
            versions[color] = image.rsplit(":", 1)[-1]
        return versions

    def start(self, color: Color, version: str) -> None:
        """Register the color's task definition again with the image at `version`, and roll
        the color's service onto it at full size."""
        task = self._task(self._service(color)["taskDefinition"])
        containers = task["containerDefinitions"]
        repository = containers[0]["image"].rsplit(":", 1)[0]
        containers[0] = {**containers[0], "image": f"{repository}:{version}"}
        keep = (
            "family",
            "cpu",
            "memory",
            "networkMode",
            "requiresCompatibilities",
            "executionRoleArn",
            "taskRoleArn",
        )
        registered = self.ecs.register_task_definition(
            containerDefinitions=containers, **{k: task[k] for k in keep if task.get(k)}
        )["taskDefinition"]["taskDefinitionArn"]
        self.ecs.update_service(
            cluster=self.cluster,
            service=self.services[color],
            taskDefinition=registered,
            desiredCount=self.desired_count,
        )

    def await_ready(self, color: Color, timeout: float) -> bool:
        """Steady state (one deployment, all tasks running) and healthy targets."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            service = self._service(color)
            deployments = service.get("deployments", [])
            steady = len(deployments) == 1 and service.get("runningCount") == service.get(
                "desiredCount"
            )
            if steady and self.targets_healthy(color):
                return True
            self.sleep(2.0)
        return False

    def drain_and_stop(self, color: Color, timeout: float) -> None:
        """Scale the color to its idle size; the ALB drains its targets first."""
        self.ecs.update_service(
            cluster=self.cluster, service=self.services[color], desiredCount=self.idle_count
        )
