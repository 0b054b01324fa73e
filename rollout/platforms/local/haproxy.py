"""HAProxy for the local platform: its binary, its configuration from the stack config, and
starting it until its runtime API answers and every server is UP."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import jinja2

from rollout.platforms.local.processes import alive, spawn
from rollout.platforms.local.router import server_weights
from rollout.platforms.local.runtime_api import RuntimeApi, RuntimeApiError
from rollout.platforms.local.state import LocalState
from shipyard.config.model import Color, LocalRun, StackConfig
from shipyard.errors import PlatformError, UsageError

READY_TIMEOUT = 20.0


class LocalPlatformError(PlatformError):
    """The local platform failed: a process died at start, HAProxy refused its config."""


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


def write_config(state: LocalState, config: StackConfig) -> None:
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


def start_haproxy(binary: str, state: LocalState) -> int:
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
            raise LocalPlatformError(_why_haproxy_exited(state))
        time.sleep(0.02)
    raise LocalPlatformError("HAProxy did not open its runtime API socket within 5 s")


def await_haproxy_up(state: LocalState) -> None:
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


def _why_haproxy_exited(state: LocalState) -> str:
    """One line: HAProxy's first ALERT (it logs `cannot bind socket (Address already in
    use) for [127.0.0.1:PORT]` when another program took a port), with the fix."""
    log = state.directory / "logs" / "haproxy.log"
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    alert = next((line for line in lines if "ALERT" in line), lines[-1] if lines else "")
    reason = alert.split(":", 1)[-1].strip() if "ALERT" in alert else alert.strip()
    if "Address already in use" in reason:
        return (
            f"HAProxy exited at start: {reason}: another program took that port; stop it, "
            f"or run `shipyard local down {state.env}` then `local up` to choose free ports"
        )
    return f"HAProxy exited at start: {reason or 'no reason given'}; see {log}"
