"""Fleet for the local platform: a color's app processes in their fixed HAProxy slots."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx

from rollout.interfaces import ServerState
from rollout.platforms.local.apps import app_log, start_app
from rollout.platforms.local.haproxy import LocalPlatformError
from rollout.platforms.local.health import server_state
from rollout.platforms.local.processes import alive, exited_at_start, started_at, stop
from rollout.platforms.local.runtime_api import RuntimeApi
from rollout.platforms.local.state import LocalState, ServerSlot, ServiceState
from shipyard.config.model import Color, Service


class LocalFleet:
    """Start, check and stop one service's colors; the state file follows every change."""

    def __init__(
        self,
        state: LocalState,
        service: Service,
        root: Path,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.state = state
        self.config = service
        self.root = root
        self.service: ServiceState = state.service(service.name)
        self.api = RuntimeApi(state.socket)
        self.extra_env = dict(extra_env or {})

    def versions(self) -> dict[Color, str | None]:
        return {
            color: next(
                (slot.version for slot in self.service.slots(color) if alive(slot.pid)), None
            )
            for color in Color
        }

    def start(self, color: Color, version: str) -> None:
        """Replace the color's processes: out of both backends first (maint), so no request
        meets a restarting process; back in once the new one listens, marked down until it
        passes HAProxy's health checks `rise` times."""
        for slot in self.service.slots(color):
            for backend in (self.service.backend, self.service.test_backend):
                self.api.set_state(backend, slot.name, "maint")
            stop(slot.pid, slot.started)
            slot.version = version
            slot.pid = start_app(self.root, self.state, self.config, slot, self.extra_env)
            slot.started = started_at(slot.pid)
        self.state.save()
        for slot in self.service.slots(color):
            self._await_port(slot)
            for backend in (self.service.backend, self.service.test_backend):
                # A new process earns traffic: it starts DOWN and must pass `rise` checks.
                # One request line, so HAProxy applies both before serving anything else.
                server = f"{backend}/{slot.name}"
                self.api.command(
                    f"set server {server} state ready; set server {server} health down"
                )

    def _await_port(self, slot: ServerSlot, timeout: float = 10.0) -> None:
        """Until the new process listens, exits, or timeout: readiness is await_ready's job."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and alive(slot.pid):
            with socket.socket() as probe:
                probe.settimeout(0.2)
                if probe.connect_ex(("127.0.0.1", slot.port)) == 0:
                    return
            time.sleep(0.02)

    def _require_running(self, color: Color) -> None:
        """A process of the color that exited will never turn healthy: say why at once."""
        for slot in self.service.slots(color):
            if not alive(slot.pid):
                what = f"{self.service.name} {slot.name}"
                log = app_log(self.state, self.service.name, slot.name)
                raise LocalPlatformError(exited_at_start(what, slot.pid, slot.port, log))

    def await_ready(self, color: Color, timeout: float) -> bool:
        """Every server answers its health check itself, and HAProxy has marked it UP in both
        the production and the test backend."""
        deadline = time.monotonic() + timeout
        path = self.config.health_check.path
        servers = {
            (backend, slot.name)
            for backend in (self.service.backend, self.service.test_backend)
            for slot in self.service.slots(color)
        }
        with httpx.Client(timeout=1.0) as client:
            while time.monotonic() < deadline:
                self._require_running(color)
                direct = all(
                    _answers(client, f"http://127.0.0.1:{slot.port}{path}")
                    for slot in self.service.slots(color)
                )
                if direct:
                    status = {(r["pxname"], r["svname"]): r["status"] for r in self.api.stats()}
                    if all(
                        server_state(status.get(key, "DOWN")) is ServerState.UP for key in servers
                    ):
                        return True
                time.sleep(0.02)
        return False

    def drain_and_stop(self, color: Color, timeout: float) -> None:
        """No new requests to the color; wait for its open sessions to end; stop it."""
        for slot in self.service.slots(color):
            for backend in (self.service.backend, self.service.test_backend):
                self.api.set_state(backend, slot.name, "drain")
        names = {slot.name for slot in self.service.slots(color)}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = [
                row
                for row in self.api.stats()
                if row["pxname"] in (self.service.backend, self.service.test_backend)
                and row["svname"] in names
            ]
            if all(int(row.get("scur") or 0) == 0 for row in rows):
                break
            time.sleep(0.02)
        for slot in self.service.slots(color):
            stop(slot.pid, slot.started)
            slot.pid = None
            slot.started = None
            for backend in (self.service.backend, self.service.test_backend):
                self.api.set_state(backend, slot.name, "maint")
        self.state.save()


def _answers(client: httpx.Client, url: str) -> bool:
    try:
        return client.get(url).status_code == 200
    except httpx.HTTPError:
        return False
