"""`shipyard local up|down|status ENV`: HAProxy and app processes for each service, on loopback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jinja2

from rollout.platforms.local.processes import alive, free_port, spawn, started_at, stop
from rollout.platforms.local.router import HaproxyRouter, server_weights
from rollout.platforms.local.runtime_api import RuntimeApi, RuntimeApiError
from rollout.platforms.local.state import LocalState, ServerSlot, ServiceState
from shipyard.config.load import StackSources, load_stack
from shipyard.config.model import Color, LocalRun, Service, StackConfig
from shipyard.errors import ShipyardError, UsageError

READY_TIMEOUT = 20.0


class LocalPlatformError(ShipyardError):
    """The local platform could not be brought up (a process died, HAProxy refused)."""


@dataclass(frozen=True)
class UpResult:
    state: LocalState
    started: bool  # False when everything was already running


def haproxy_binary() -> str:
    found = shutil.which("haproxy") or next(
        (p for p in ("/usr/sbin/haproxy", "/sbin/haproxy") if os.access(p, os.X_OK)), None
    )
    if found is None:
        raise UsageError(
            "haproxy not found: install it (Debian/Ubuntu: sudo apt-get install haproxy), or run "
            "`make demo`, which installs it when it can"
        )
    return found


def local_up(sources: StackSources, env: str) -> UpResult:
    """Start HAProxy and every service's blue and green processes; safe to run twice."""
    config = load_stack(sources, env).config  # validates first: a bad config starts nothing
    haproxy = haproxy_binary()
    existing = LocalState.load(sources.root, env)
    if existing is not None and _all_running(existing):
        return UpResult(existing, started=False)
    if existing is not None:
        local_down(sources, env)  # half-alive leftovers: start clean
    state = LocalState.fresh(sources.root, env)
    state.directory.mkdir(parents=True, exist_ok=True)
    for service in config.services:
        state.services.append(_plan_service(service))
    state.save()
    try:
        for service_config in config.services:
            service_state = state.service(service_config.name)
            for slot in service_state.servers:
                slot.version = service_config.version_of(slot.color)
                slot.pid = start_app(sources.root, state, service_config, slot)
                slot.started = started_at(slot.pid)
            state.save()
        _await_all_ready(state, config)  # before HAProxy, so its first checks pass
        _write_config(state, config)
        state.haproxy_pid = _start_haproxy(haproxy, state)
        state.haproxy_started = started_at(state.haproxy_pid)
        state.save()
        _await_haproxy_up(state)
    except BaseException:
        local_down(sources, env)
        raise
    return UpResult(state, started=True)


def local_down(sources: StackSources, env: str) -> LocalState | None:
    """Stop exactly what `up` started (by pid); nothing to do is fine."""
    state = LocalState.load(sources.root, env)
    if state is None:
        return None
    from rollout.platforms.local.traffic import stop_traffic

    stop_traffic(state)
    stop(state.haproxy_pid, state.haproxy_started)
    for service in state.services:
        for slot in service.servers:
            stop(slot.pid, slot.started)
    for leftover in (state.socket, state.pid_file, state.state_file):
        leftover.unlink(missing_ok=True)
    return state


def local_status(sources: StackSources, env: str) -> dict[str, Any]:
    """Per service: URLs, the live color, weights, versions and each server's health."""
    state = LocalState.load(sources.root, env)
    if state is None:
        return {"environment": env, "running": False, "services": []}
    api = RuntimeApi(state.socket)
    running = alive(state.haproxy_pid)
    stats: dict[tuple[str, str], dict[str, str]] = {}
    if running:
        try:
            stats = {(row["pxname"], row["svname"]): row for row in api.stats()}
        except RuntimeApiError:
            running = False
    services = []
    for service in state.services:
        weights = HaproxyRouter(api, service).weights() if running else {}
        services.append(
            {
                "name": service.name,
                "url": service.url,
                "test_url": service.test_url,
                "active_color": service.active_color.value,
                "weights": {c.value: weights.get(c, 0) for c in Color},
                "versions": {
                    c.value: next((s.version for s in service.slots(c)), None) for c in Color
                },
                "health": [
                    {
                        "server": slot.name,
                        "color": slot.color.value,
                        "port": slot.port,
                        "pid": slot.pid,
                        "process": "running" if alive(slot.pid) else "stopped",
                        "haproxy": stats.get((service.backend, slot.name), {}).get(
                            "status", "unknown"
                        ),
                    }
                    for slot in service.servers
                ],
            }
        )
    return {"environment": env, "running": running, "services": services}


def _plan_service(service: Service) -> ServiceState:
    count = service.desired_count
    slots = [
        ServerSlot(name=f"{color.value}{index}", color=color, port=free_port())
        for color in Color
        for index in range(1, count + 1)
    ]
    return ServiceState(
        name=service.name,
        port=free_port(),
        test_port=free_port(),
        active_color=service.active_color,
        servers=slots,
    )


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
    log = state.directory / "logs" / f"{service.name}-{slot.name}.log"
    return spawn(argv, env, log)


def _write_config(state: LocalState, config: StackConfig) -> None:
    template = jinja2.Environment(
        loader=jinja2.PackageLoader("rollout.platforms.local", "."),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    ).get_template("haproxy.cfg.j2")
    services = []
    for service in state.services:
        cfg = config.service(service.name)
        check = cfg.health_check
        run = cfg.local or LocalRun()
        production = {c: cfg.weight_of(c) for c in Color}
        test = {c: (100 if c is cfg.idle_color else 0) for c in Color}
        services.append(
            {
                "name": service.name,
                "port": service.port,
                "test_port": service.test_port,
                "servers": service.servers,
                "weights": server_weights(production, service),
                "test_weights": server_weights(test, service),
                "check_path": check.path,
                "check_status": check.matcher,
                "check_interval_ms": run.check_interval_ms,
                "rise": check.healthy_threshold,
                "fall": check.unhealthy_threshold,
            }
        )
    text = template.render(
        env=state.env, socket=state.socket, pidfile=state.pid_file, services=services
    )
    state.config_file.write_text(text)


def _start_haproxy(binary: str, state: LocalState) -> int:
    check = subprocess.run(
        [binary, "-c", "-f", str(state.config_file)], capture_output=True, text=True
    )
    if check.returncode != 0:
        alerts = [line for line in check.stderr.splitlines() if "ALERT" in line]
        raise LocalPlatformError(
            f"HAProxy rejected {state.config_file}: {(alerts or ['(no reason given)'])[0]}"
        )
    pid = spawn(
        [binary, "-db", "-f", str(state.config_file)],
        dict(os.environ),
        state.directory / "logs" / "haproxy.log",
    )
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if state.socket.exists():
            try:
                RuntimeApi(state.socket).command("show info")
                return pid
            except RuntimeApiError:
                pass
        if not alive(pid):
            log = (state.directory / "logs" / "haproxy.log").read_text()[-500:]
            raise LocalPlatformError(f"HAProxy exited at start: {log.strip()}")
        time.sleep(0.02)
    raise LocalPlatformError("HAProxy did not open its runtime API socket within 5 s")


def _await_all_ready(state: LocalState, config: StackConfig) -> None:
    """Every app answers its health check directly, then HAProxy sees every server UP."""
    deadline = time.monotonic() + READY_TIMEOUT
    with httpx.Client(timeout=1.0) as client:
        for service in state.services:
            path = config.service(service.name).health_check.path
            for slot in service.servers:
                while True:
                    if not alive(slot.pid):
                        raise LocalPlatformError(
                            f"{service.name} {slot.name} (pid {slot.pid}) exited at start; see "
                            f"{state.directory / 'logs' / f'{service.name}-{slot.name}.log'}"
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


def _await_haproxy_up(state: LocalState) -> None:
    """HAProxy counts passed checks before it trusts a server (`UP 1/3` while counting):
    `up` returns once every server of every backend is plainly UP."""
    api = RuntimeApi(state.socket)
    servers = {
        (backend, slot.name)
        for service in state.services
        for backend in (service.backend, service.test_backend)
        for slot in service.servers
    }
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        status = {(r["pxname"], r["svname"]): r["status"] for r in api.stats()}
        if all(status.get(key) == "UP" for key in servers):
            return
        time.sleep(0.02)
    waiting = sorted(
        f"{b}/{s}: {status.get((b, s))}" for b, s in servers if status.get((b, s)) != "UP"
    )
    raise LocalPlatformError(f"HAProxy did not mark every server UP: {', '.join(waiting)}")


def _all_running(state: LocalState) -> bool:
    """HAProxy up, and every live color's processes up (an idle color may be stopped: a
    rollback or a finished scale-down stops it on purpose)."""
    return alive(state.haproxy_pid) and all(
        alive(slot.pid)
        for service in state.services
        for slot in service.slots(service.active_color)
    )
