"""ECS's side: each color's ECS service runs real processes, as Fargate would run its tasks.

What moto's service says (task definition, `desiredCount`) is what runs. A task is the
service's command (`local.command`, by default the sample service) with the revision's app
container environment, the image tag as its version (APP_VERSION) and a port of its own. Like an
ECS rolling deployment with the default 100% minimum healthy and 200% maximum: the new
revision's tasks start beside the old ones, are registered as targets of the color's target
group once their port opens, and the old tasks are deregistered (draining, then SIGTERM) once
every new one is healthy. A task whose process exits is replaced. moto's `runningCount`,
`pendingCount` and deployments follow what really runs (`publish`).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from aws_harness.dataplane import DataPlane
from aws_harness.ecs_report import report
from aws_harness.moto_side import TargetHealthBook
from rollout.interfaces import ServerState
from rollout.platforms.local.apps import app_command
from rollout.platforms.local.health import server_state
from rollout.platforms.local.owned import marker
from rollout.platforms.local.processes import alive, spawn, started_at
from rollout.platforms.local.state import ServerSlot
from shipyard.config.model import Color, Service
from shipyard.revision import tag_of

PASSING = ("L4OK", "L6OK", "L7OK")
RESTART_BACKOFF = 0.5  # seconds before replacing a task that exited unhealthy, doubled each time
RESTART_BACKOFF_MAX = 15.0
log = logging.getLogger("aws_harness")
STOP_GRACE = 10.0  # seconds between SIGTERM and SIGKILL (ECS's default stopTimeout is 30)


@dataclass
class Task:
    definition: str  # the task definition revision's ARN
    version: str
    slot: ServerSlot
    target: str  # its id in the target group
    state: str = "pending"  # pending -> registered -> draining -> stopping
    healthy_once: bool = False
    since: float = field(default_factory=time.monotonic)
    health: str = ""


@dataclass
class ColorService:
    """One color's ECS service and what runs for it."""

    name: str  # the ECS service's name
    service: Service  # shipyard's service (the stack config)
    index: int  # the service's position, for target ids
    color: Color
    target_group: str
    tasks: list[Task] = field(default_factory=list)
    exits: int = 0  # tasks in a row that exited before becoming healthy
    next_start: float = 0.0  # no task starts before this (monotonic): ECS throttles restarts
    refused: set[str] = field(default_factory=set)  # revisions that can never run here

    def running(self) -> list[Task]:
        return [t for t in self.tasks if t.state != "stopping"]


class Ecs:
    def __init__(
        self,
        plane: DataPlane,
        ecs: Any,
        elbv2: Any,
        cluster: str,
        colors: list[ColorService],
        book: TargetHealthBook,
        project: Path,
    ) -> None:
        self.plane = plane
        self.ecs = ecs
        self.elbv2 = elbv2
        self.cluster = cluster
        self.colors = colors
        self.book = book
        self.project = project
        self.warned: set[tuple[str, str]] = set()

    def moto(self, record: ColorService) -> Any:
        return self.ecs.services[f"{self.cluster}:{record.name}"]

    def desired(self, record: ColorService) -> tuple[str, int]:
        service = self.moto(record)
        if service.status != "ACTIVE":
            return "", 0
        return str(service.task_definition or ""), int(service.desired_count or 0)

    # -- one pass --------------------------------------------------------------------------

    def reconcile(self, rows: dict[tuple[str, str], dict[str, str]]) -> bool:
        """Move every color one step toward what moto says; True when targets changed."""
        changed = False
        for record in self.colors:
            changed |= self._reconcile(record, rows)
            self.publish(record)
        return changed

    def _reconcile(self, record: ColorService, rows: dict[tuple[str, str], dict[str, str]]) -> bool:
        definition, count = self.desired(record)
        changed = False
        for task in list(record.tasks):
            changed |= self._advance(record, task, rows)
        current = [
            t for t in record.running() if t.definition == definition and t.state != "draining"
        ]
        for task in current[count:]:  # scaled in: the newest go first
            changed |= self._drain(record, task)
        for _ in range(count - len(current)):
            if not self._start(record, definition):
                break
        fresh = current[:count]
        ready = len(fresh) == count and all(t.health == "healthy" for t in fresh)
        for task in record.running():
            if task.definition != definition and task.state != "draining" and (ready or not count):
                changed |= self._drain(record, task)
        return changed

    def _advance(
        self, record: ColorService, task: Task, rows: dict[tuple[str, str], dict[str, str]]
    ) -> bool:
        slot = task.slot
        if task.state == "stopping":
            if not alive(slot.pid) or time.monotonic() - task.since > STOP_GRACE:
                if alive(slot.pid):
                    os.kill(slot.pid or 0, 9)
                slot.pid, slot.started, slot.version = None, None, None
                record.tasks.remove(task)
            return False
        if not alive(slot.pid):  # the task stopped by itself: ECS replaces it, throttled
            changed = task.state in ("registered", "draining")
            if not task.healthy_once:
                record.exits += 1
                record.next_start = time.monotonic() + min(
                    RESTART_BACKOFF * 2 ** (record.exits - 1), RESTART_BACKOFF_MAX
                )
                log.warning(
                    "%s: a %s task exited before becoming healthy (%d in a row); see %s",
                    record.name,
                    task.version,
                    record.exits,
                    self.log_of(record, slot),
                )
            self._deregister(record, task)
            if changed:
                self.plane.retire(record.service.name, slot)
            task.state, task.since = "stopping", 0.0
            return changed
        if task.state == "pending":
            if _listens(slot.port):
                self.elbv2.register_targets(
                    record.target_group, [{"Id": task.target, "Port": slot.port}]
                )
                self.plane.register(record.service.name, slot)
                task.state, task.health = "registered", "initial"
                self.book.states[(record.target_group, task.target)] = "initial"
                return True
            return False
        if task.state == "registered":
            task.health = self._health(record, task, rows)
            self.book.states[(record.target_group, task.target)] = task.health
            return False
        # draining: until no session is open on it, or the deregistration delay is over
        over = time.monotonic() - task.since > record.service.deregistration_delay_seconds
        if over or self.plane.sessions(record.service.name, slot, rows) == 0:
            self._deregister(record, task)
            self.plane.retire(record.service.name, slot)
            os.kill(slot.pid or 0, 15)
            task.state, task.since = "stopping", time.monotonic()
        return False

    def _health(
        self, record: ColorService, task: Task, rows: dict[tuple[str, str], dict[str, str]]
    ) -> str:
        row = rows.get((self.plane.service(record.service.name).backend, task.slot.name), {})
        state = server_state(row.get("status", "DOWN"))
        if state is ServerState.UP:
            if not task.healthy_once:
                record.exits = 0  # a new task made it: the color is not crash-looping
            task.healthy_once = True
            return "healthy"
        check = row.get("check_status", "").lstrip("* ")
        if task.healthy_once or (check and not check.startswith(PASSING) and check != "INI"):
            return "unhealthy"
        return "initial"

    def _drain(self, record: ColorService, task: Task) -> bool:
        if task.state == "pending":
            os.kill(task.slot.pid or 0, 15)
            task.state, task.since = "stopping", time.monotonic()
            return False
        self.plane.drain(record.service.name, task.slot)
        task.state, task.since = "draining", time.monotonic()
        task.health = "draining"
        self.book.states[(record.target_group, task.target)] = "draining"
        return True

    def _deregister(self, record: ColorService, task: Task) -> None:
        self.book.states.pop((record.target_group, task.target), None)
        if task.target in self.elbv2.target_groups[record.target_group].targets:
            self.elbv2.deregister_targets(record.target_group, [{"Id": task.target}])

    def log_of(self, record: ColorService, slot: ServerSlot) -> Path:
        return self.plane.state.directory / "logs" / f"{record.service.name}-{slot.name}.log"

    def _start(self, record: ColorService, definition: str) -> bool:
        if not definition or definition in record.refused:
            return False
        if time.monotonic() < record.next_start:
            return False
        slot = self.plane.free_slot(record.service.name, record.color)
        if slot is None:
            if ("slots", definition) not in self.warned:
                self.warned.add(("slots", definition))
                log.warning(
                    "%s: no free slot for another task (%d per color, fixed at start)",
                    record.name,
                    len(self.plane.service(record.service.name).slots(record.color)),
                )
            return False
        revision = self.ecs.describe_task_definition(definition)
        containers = [c for c in revision.container_definitions if c["name"] == record.service.name]
        if len(containers) != 1:
            record.refused.add(definition)
            log.warning(
                "%s: %s has no container named %s: no task of it can start",
                record.name,
                definition,
                record.service.name,
            )
            return False
        (container,) = containers
        version = tag_of(str(container["image"])) or "latest"
        argv, env = task_process(
            self.project, record.service, record.color, slot, container, version
        )
        env.update(marker(self.plane.state.directory))
        slot.pid = spawn(argv, env, self.log_of(record, slot))
        slot.started, slot.version = started_at(slot.pid), version
        position = self.plane.service(record.service.name).servers.index(slot)
        target = f"10.99.{200 + record.index}.{10 + position}"
        record.tasks.append(Task(definition, version, slot, target))
        return True

    def publish(self, record: ColorService) -> None:
        """runningCount, pendingCount and deployments as ECS would report them now."""
        definition, count = self.desired(record)
        report(self.moto(record), record.running(), definition, count)


def task_process(
    project: Path,
    service: Service,
    color: Color,
    slot: ServerSlot,
    container: dict[str, Any],
    version: str,
) -> tuple[list[str], dict[str, str]]:
    """argv and environment of one task: the container's environment (secrets are not
    resolved), the port, and the image tag as the app's version."""
    # The command as the local platform fills it in; the environment is the container's.
    argv, _ = app_command(project, service, replace(slot, color=color, version=version))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APP_", "SHIPYARD_"))}
    env.update({e["name"]: e["value"] for e in container.get("environment", [])})
    env.update(PORT=str(slot.port), HOST="127.0.0.1", APP_VERSION=version, APP_COLOR=color.value)
    return argv, env


def _listens(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.05)
        return probe.connect_ex(("127.0.0.1", port)) == 0
