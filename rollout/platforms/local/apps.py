"""The app processes of the local platform: how each is started, and awaited at `up`."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import httpx

from rollout.platforms.local.haproxy import READY_TIMEOUT, LocalPlatformError
from rollout.platforms.local.owned import marker
from rollout.platforms.local.processes import alive, exited_at_start, spawn
from rollout.platforms.local.state import LocalState, ServerSlot
from shipyard.config.model import LocalRun, Service, StackConfig


def app_command(root: Path, service: Service, slot: ServerSlot) -> tuple[list[str], dict[str, str]]:
    """argv and environment for one app process."""
    run = service.local or LocalRun()
    values = {
        "python": sys.executable,
        "project": str(root),
        "port": str(slot.port),
        "version": slot.version or "",
        "color": slot.color.value,
    }
    argv = [part.format(**values) for part in run.command]
    env = {k: v for k, v in os.environ.items() if not k.startswith("APP_")}
    env.update(service.environment)
    env.update(
        PORT=str(slot.port),
        HOST="127.0.0.1",
        APP_VERSION=slot.version or "",
        APP_COLOR=slot.color.value,
        SHIPYARD_COLOR=slot.color.value,
        SHIPYARD_VERSION=slot.version or "",
    )
    return argv, env


def start_app(
    root: Path,
    state: LocalState,
    service: Service,
    slot: ServerSlot,
    extra_env: dict[str, str] | None = None,
) -> int:
    """Spawn one app process for a slot; its output goes to the environment's logs."""
    argv, env = app_command(root, service, slot)
    env.update(extra_env or {})
    env.update(marker(state.directory))  # so `down` finds it even unrecorded
    return spawn(argv, env, app_log(state, service.name, slot.name))


def app_log(state: LocalState, service: str, slot: str) -> Path:
    return state.directory / "logs" / f"{service}-{slot}.log"


def await_all_ready(state: LocalState, config: StackConfig) -> None:
    """Every app answers its health check directly, then HAProxy sees every server UP."""
    deadline = time.monotonic() + READY_TIMEOUT
    with httpx.Client(timeout=1.0) as client:
        for service in state.services:
            path = config.service(service.name).health_check.path
            for slot in service.servers:
                while slot.pid is not None:  # a retired color runs nothing
                    if not alive(slot.pid):
                        raise LocalPlatformError(
                            exited_at_start(
                                f"{service.name} {slot.name}",
                                slot.pid,
                                slot.port,
                                app_log(state, service.name, slot.name),
                            )
                        )
                    try:
                        if client.get(f"http://127.0.0.1:{slot.port}{path}").status_code < 500:
                            break
                    except httpx.HTTPError:
                        pass
                    if time.monotonic() > deadline:
                        raise LocalPlatformError(
                            f"{service.name} {slot.name} not ready after {READY_TIMEOUT:g} s"
                        )
                    time.sleep(0.02)
