"""What a rollout needs to know about a stack on AWS, from its Pulumi stack outputs.

The Pulumi program exports, per service, its listener ARNs, target group ARNs, ECS service
names, task-definition templates and alarm names (`__main__.py`). They come from `pulumi stack
output --json` saved to a file (`--stack-outputs`, or `$SHIPYARD_STACK_OUTPUTS`), or from the
engine when the Pulumi CLI is installed. A missing output names what to run.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipyard.config.model import Color
from shipyard.errors import CheckFailed, UsageError

# A task definition revision's ARN: ...:task-definition/<family>:<revision>
# (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/security_iam_service-with-iam.html#security_iam_service-with-iam-id-based-policies-resources)
TASK_DEFINITION_ARN = re.compile(
    r"^arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:task-definition/(?P<family>[A-Za-z0-9_-]+):[0-9]+\Z"
)


@dataclass(frozen=True)
class ServiceOutputs:
    name: str
    cluster: str
    load_balancer: str  # the ALB's ARN suffix (CloudWatch's LoadBalancer dimension)
    production_listener: str
    test_listener: str
    target_groups: dict[Color, str]
    ecs_services: dict[Color, str]
    task_definitions: dict[Color, str]  # each color's template: what `pulumi up` last made
    alarms: dict[Color, list[str]]
    test_url: str
    url: str


@dataclass(frozen=True)
class StackOutputs:
    environment: str
    values: dict[str, Any]
    source: str  # where they were read, for messages

    @classmethod
    def from_file(cls, path: Path, environment: str) -> StackOutputs:
        try:
            values = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UsageError(
                f"{path}: no such file; write it with "
                f"`pulumi stack output -s {environment} --json > {path}`"
            ) from None
        except json.JSONDecodeError as exc:
            raise UsageError(
                f"{path}: not JSON ({exc.msg} at line {exc.lineno}); write it with "
                f"`pulumi stack output -s {environment} --json`"
            ) from None
        if not isinstance(values, dict):
            raise UsageError(
                f"{path}: expected the JSON object `pulumi stack output --json` writes"
            )
        return cls(environment, values, str(path))

    def _missing(self, path: str) -> CheckFailed:
        return CheckFailed(
            f"stack {self.environment} has no output {path} (read from {self.source}): run "
            f"`pulumi up -s {self.environment}`, then `pulumi stack output -s "
            f"{self.environment} --json` again"
        )

    def get(self, *path: str) -> Any:
        value: Any = self.values
        for depth, key in enumerate(path):
            if not isinstance(value, dict) or value.get(key) in (None, ""):
                raise self._missing(".".join(path[: depth + 1]))
            value = value[key]
        return value

    def _template(self, service: str, color: Color) -> str:
        """The color's task-definition template: a revision of the family the program gives
        that color in this environment, and nothing else (another environment's template
        would hand a rollout its role, secrets and variables)."""
        path = ("services", service, "taskDefinitionArns", color.value)
        value = self.get(*path)
        family = f"{self.environment}-{service}-{color.value}"
        found = TASK_DEFINITION_ARN.match(value) if isinstance(value, str) else None
        if found is None or found["family"] != family:
            raise UsageError(
                f"{self.source}: {'.'.join(path)} is {value!r}, not a revision of task "
                f"definition family {family} (the program's template for {service}'s "
                f"{color.value} color in {self.environment}): pass this stack's own "
                f"`pulumi stack output -s {self.environment} --json`"
            )
        return str(value)

    def service(self, name: str) -> ServiceOutputs:
        if self.values.get("environment") not in (None, self.environment):
            raise UsageError(
                f"{self.source} holds the outputs of stack {self.values['environment']!r}, "
                f"not {self.environment!r}: pass that stack's outputs"
            )
        base = ("services", name)
        alarms = self.get(*base, "alarmNames")
        return ServiceOutputs(
            name=name,
            cluster=str(self.get("clusterName")),
            load_balancer=str(self.get(*base, "albArnSuffix")),
            production_listener=str(self.get(*base, "listenerArns", "production")),
            test_listener=str(self.get(*base, "listenerArns", "test")),
            target_groups={c: str(self.get(*base, "targetGroupArns", c.value)) for c in Color},
            ecs_services={c: str(self.get(*base, "ecsServiceNames", c.value)) for c in Color},
            task_definitions={c: self._template(name, c) for c in Color},
            alarms={
                c: sorted(str(n) for n in self.get(*base, "alarmNames", c.value).values())
                for c in Color
                if c.value in alarms
            },
            test_url=str(self.get(*base, "testUrl")),
            url=str(self.get(*base, "url")),
        )
