"""The ALB's data plane: one HAProxy on 127.0.0.1, built with the local platform's own pieces.

Per service, a production frontend (the production listener) and a test frontend (the test
listener), each with a backend holding fixed slots for both colors' targets, as the local
platform lays them out (`rollout.platforms.local.haproxy`). A task of a color runs on one of
its color's slots; a slot without a task is in maintenance. Forward weights between the two
target groups become server weights through the local platform's `HaproxyRouter`, over the
slots that hold registered targets, so each target group gets its share however many targets
it has (ELBv2 splits by target group first, then among its targets), drawn at random by
weight per request. HAProxy runs the target groups' health checks (path, matcher, thresholds;
every `local.checkIntervalMs` instead of the ALB's interval) once per target: the test
listener's servers track the production backend's. It retries nothing (an ALB answers 502 or
503) and logs one line per request, which `metrics` turns into the ALB's metrics
(`write_config(..., alb=True)`).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable, Iterator
from pathlib import Path

from rollout.platforms.local.haproxy import (
    await_haproxy_api,
    haproxy_binary,
    haproxy_log,
    log_offset,
    spawn_haproxy,
    write_config,
)
from rollout.platforms.local.processes import port_taken, started_at, stop
from rollout.platforms.local.router import HaproxyRouter
from rollout.platforms.local.runtime_api import RuntimeApi
from rollout.platforms.local.state import LocalState, ServerSlot, ServiceState
from shipyard.config.model import Color, StackConfig

LISTENERS = ("production", "test")


class DataPlane:
    def __init__(self, directory: Path, env: str, config: StackConfig) -> None:
        self.config = config
        self.state = LocalState(env=env, directory=directory)
        ports = quiet_ports()
        for service in config.services:
            slots = max(2, 2 * max(service.desired_count, service.idle_desired_count) + 1)
            servers = [
                ServerSlot(name=f"{color.value}{i}", color=color, port=next(ports))
                for color in Color
                for i in range(1, slots + 1)
            ]
            self.state.services.append(
                ServiceState(service.name, next(ports), next(ports), service.active_color, servers)
            )
        self.api = RuntimeApi(self.state.socket)
        self.pid: int | None = None
        self.started: int | None = None

    @property
    def log(self) -> Path:
        return haproxy_log(self.state)

    def start(self) -> None:
        write_config(self.state, self.config, alb=True)
        offset = log_offset(self.state)
        self.pid = spawn_haproxy(haproxy_binary(), self.state)
        self.started = started_at(self.pid)
        await_haproxy_api(self.state, self.pid, offset)

    def stop(self) -> None:
        stop(self.pid, self.started)

    def service(self, name: str) -> ServiceState:
        return self.state.service(name)

    def backends(self, service: str) -> tuple[str, str]:
        state = self.service(service)
        return state.backend, state.test_backend

    def free_slot(self, service: str, color: Color) -> ServerSlot | None:
        """A slot of the color with no task, whose port nothing else has taken meanwhile."""
        return next(
            (
                s
                for s in self.service(service).slots(color)
                if s.pid is None and not port_taken(s.port)
            ),
            None,
        )

    def register(self, service: str, slot: ServerSlot) -> None:
        """A registered target starts unhealthy and earns traffic by passing its checks."""
        production, test = self.backends(service)
        server = f"{production}/{slot.name}"
        self.api.command(
            f"set server {server} state ready; set server {server} health down; "
            f"set server {test}/{slot.name} state ready"  # it tracks the production server
        )

    def drain(self, service: str, slot: ServerSlot) -> None:
        for backend in self.backends(service):
            self.api.set_state(backend, slot.name, "drain")

    def retire(self, service: str, slot: ServerSlot) -> None:
        for backend in self.backends(service):
            self.api.set_state(backend, slot.name, "maint")

    def rows(self) -> dict[tuple[str, str], dict[str, str]]:
        """`show stat` rows by (backend, server)."""
        return {(r["pxname"], r["svname"]): r for r in self.api.stats()}

    def sessions(
        self, service: str, slot: ServerSlot, rows: dict[tuple[str, str], dict[str, str]]
    ) -> int:
        return sum(
            int(rows.get((b, slot.name), {}).get("scur") or 0) for b in self.backends(service)
        )

    def route(
        self, service: str, listener: str, shares: dict[Color, int], active: Iterable[ServerSlot]
    ) -> None:
        """Give each color its share of the listener's traffic, spread over its registered
        targets (`active`)."""
        state = self.service(service)
        view = ServiceState(
            state.name, state.port, state.test_port, state.active_color, list(active)
        )
        backend = state.backend if listener == "production" else state.test_backend
        HaproxyRouter(self.api, view, backend).set_weights(shares)

    def url(self, service: str, listener: str) -> str:
        state = self.service(service)
        return state.url if listener == "production" else state.test_url


def quiet_ports() -> Iterator[int]:
    """Free ports on 127.0.0.1 below the kernel's ephemeral range
    (/proc/sys/net/ipv4/ip_local_port_range): a port chosen now and bound later by a task must
    not be taken meanwhile as the source port of one of the many connections the load makes."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    start = random.randrange(10_000, max(low - 2_000, 10_001))
    for port in itertools.chain(range(start, low), range(10_000, start)):
        if not port_taken(port):
            yield port
    raise RuntimeError(f"no free port on 127.0.0.1 between 10000 and {low}")
