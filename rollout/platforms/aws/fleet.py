"""Fleet on ECS: one service per color; a version is a new revision of the color's task
definition: the revision `pulumi up` last made for that color (its template, from the stack's
`taskDefinitionArns` output), everything kept, at the version (`shipyard.revision`, the rule the
Pulumi program follows too). The program never points a service at its template after creating
it (components.blue_green_service.SHIPYARD_OWNS), so a change there (a variable, a secret, more
memory) reaches a color through the next blue-green rollout, with its checks, never in place."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from shipyard.aws import MissingResource
from shipyard.config.model import Color
from shipyard.revision import Revision, version_in, with_version

TargetsHealthy = Callable[[Color], bool]
# A described task definition has fields ECS records itself (taskDefinitionArn, revision,
# status, compatibilities, requiresAttributes, registeredAt, registeredBy) that
# RegisterTaskDefinition refuses; every other field is carried over by name, taken from the
# register call's own input shape so that a field ECS adds later is kept without a change here.
# https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RegisterTaskDefinition.html
# https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeTaskDefinition.html
# Tag keys and values starting with aws: are AWS's own and may not be set by anyone else.
# https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Tag.html
RESERVED_TAG_PREFIX = "aws:"


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
        poll_seconds: float = 2.0,
        environment: str | None = None,
        container: str = "",
        templates: Mapping[Color, str] | None = None,
    ) -> None:
        self.environment = environment
        # Without templates (a fleet built by hand), the color's running revision is the base.
        self.templates = dict(templates or {})
        self.container = container
        self.ecs = ecs
        self.cluster = cluster
        self.services = dict(services)
        self.desired_count = desired_count
        self.idle_count = idle_count
        self.targets_healthy = targets_healthy or (lambda color: True)
        self.sleep = sleep
        self.poll_seconds = poll_seconds  # between DescribeServices while awaiting readiness

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

    def _container(self, containers: list[dict[str, Any]]) -> str:
        """The app container: the one the program names after the service (the first, when the
        fleet was not told its name)."""
        return self.container or str(containers[0]["name"])

    def versions(self) -> dict[Color, str | None]:
        versions: dict[Color, str | None] = {}
        for color in Color:
            service = self._service(color)
            if not service.get("desiredCount"):
                versions[color] = None
                continue
            containers = self._task(service["taskDefinition"])["containerDefinitions"]
            versions[color] = version_in(containers, self._container(containers))
        return versions

    def next_revision(self, color: Color, version: str) -> dict[str, Any]:
        """RegisterTaskDefinition's input: the color's template (else its running revision),
        with its tags, at `version`, everything else the same."""
        current = self.templates.get(color) or self._service(color)["taskDefinition"]
        # Tags come back only when asked for with include=TAGS.
        # https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeTaskDefinition.html
        described = self.ecs.describe_task_definition(taskDefinition=current, include=["TAGS"])
        task = dict(described["taskDefinition"])
        tags = {
            t["key"]: t.get("value", "")
            for t in described.get("tags", [])
            if not t["key"].lower().startswith(RESERVED_TAG_PREFIX)
        }
        containers = task["containerDefinitions"]
        try:
            containers, tags = with_version(
                containers, tags, Revision(self._container(containers), color, version)
            )
        except ValueError as error:
            raise MissingResource(
                f"task definition {current} is not the one the Pulumi program made ({error}): "
                f"run `pulumi up -s {self.environment or 'ENV'}`, then retry",
                "ecs:DescribeTaskDefinition",
                "MISSING",
            ) from error
        accepted = self._register_fields()
        request = {k: v for k, v in task.items() if k in accepted and v is not None}
        request["containerDefinitions"] = containers
        request["tags"] = [{"key": k, "value": v} for k, v in tags.items()]
        return request

    def _register_fields(self) -> frozenset[str]:
        model = self.ecs.meta.service_model.operation_model("RegisterTaskDefinition")
        return frozenset(model.input_shape.members)

    def start(self, color: Color, version: str) -> None:
        """Register the color's next task-definition revision at `version`, and roll the
        color's service onto it at full size."""
        registered = self.ecs.register_task_definition(**self.next_revision(color, version))
        self.ecs.update_service(
            cluster=self.cluster,
            service=self.services[color],
            taskDefinition=registered["taskDefinition"]["taskDefinitionArn"],
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
            self.sleep(self.poll_seconds)
        return False

    def drain_and_stop(self, color: Color, timeout: float) -> None:
        """Scale the color to its idle size; the ALB drains its targets first."""
        self.ecs.update_service(
            cluster=self.cluster, service=self.services[color], desiredCount=self.idle_count
        )
