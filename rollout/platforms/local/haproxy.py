"""HAProxy for the local platform: its binary, its configuration from the stack config, and
starting it until its runtime API answers and every server is UP."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import jinja2

from rollout.platforms.local.owned import marker
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


# The AWS harness's request log: accept time (s.ms), backend, server (<NOSRV> when none),
# status, server response time (ms, -1 without a response), termination state (`--` normal; a
# first letter when HAProxy cut the request).
ALB_LOG_FORMAT = "SHIPYARD %Ts.%ms %b %s %ST %Tr %ts"


def write_config(state: LocalState, config: StackConfig, alb: bool = False) -> None:
    """HAProxy's configuration for the services in `state`. `alb`: as the AWS harness's ALB,
    which retries no request on another server, picks servers at random by weight, shares
    one health check per target between both listeners, and logs every request
    (ALB_LOG_FORMAT) on stdout."""
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
                "check_timeout_s": check.timeout_seconds,
                "rise": check.healthy_threshold,
                "fall": check.unhealthy_threshold,
            }
        )
    text = template.render(
        env=state.env,
        socket=state.socket,
        pidfile=state.pid_file,
        services=services,
        alb=alb,
        alb_log_format=ALB_LOG_FORMAT,
    )
    state.config_file.write_text(text)


def spawn_haproxy(binary: str, state: LocalState) -> int:
    """Check the configuration, then start HAProxy; the caller records the pid at once and
    awaits its runtime API with await_haproxy_api."""
    check = subprocess.run(
        [binary, "-c", "-f", str(state.config_file)], capture_output=True, text=True
    )
    if check.returncode != 0:
        alerts = [line for line in check.stderr.splitlines() if "ALERT" in line]
        raise LocalPlatformError(
            f"HAProxy rejected {state.config_file}: {(alerts or ['(no reason given)'])[0]}"
        )
    return spawn(
        [binary, "-db", "-f", str(state.config_file)],
        {**os.environ, **marker(state.directory)},
        haproxy_log(state),
    )


def haproxy_log(state: LocalState) -> Path:
    return state.directory / "logs" / "haproxy.log"


def log_offset(state: LocalState) -> int:
    """Where this start's part of the (appended) HAProxy log begins."""
    try:
        return haproxy_log(state).stat().st_size
    except OSError:
        return 0


def await_haproxy_api(state: LocalState, pid: int, offset: int) -> None:
    """Until HAProxy's runtime API answers; when HAProxy exits first, why (from its log,
    from `offset` on: older starts' lines are not this start's cause)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if state.socket.exists():
            try:
                RuntimeApi(state.socket).command("show info")
                return
            except RuntimeApiError:
                pass
        if not alive(pid):
            raise LocalPlatformError(_why_haproxy_exited(state, offset))
        time.sleep(0.02)
    raise LocalPlatformError("HAProxy did not open its runtime API socket within 5 s")


def await_haproxy_up(state: LocalState) -> None:
    """HAProxy counts passed checks before it trusts a server (`UP 1/3` while counting):
    `up` returns once every running server of every backend is plainly UP."""
    api = RuntimeApi(state.socket)
    servers = {
        (backend, slot.name)
        for service in state.services
        for backend in (service.backend, service.test_backend)
        for slot in service.servers
        if slot.pid is not None  # a retired color's servers stay in maintenance
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


def _why_haproxy_exited(state: LocalState, offset: int) -> str:
    """One line from this start's log: a bind error first (HAProxy logs `cannot bind socket
    (Address already in use) for [127.0.0.1:PORT]` when another program took a port, and
    may log other ALERTs after it), else its first ALERT, with the fix."""
    log = haproxy_log(state)
    with open(log, "rb") as handle:
        handle.seek(offset)
        lines = handle.read().decode("utf-8", errors="replace").splitlines()
    alerts = [line for line in lines if "ALERT" in line]
    bind = [line for line in alerts if "cannot bind" in line or "already in use" in line]
    alert = (bind or alerts or lines[-1:] or [""])[0]
    reason = alert.split(":", 1)[-1].strip() if "ALERT" in alert else alert.strip()
    port = re.search(r"\[[\d.]+:(\d+)\]", reason)
    if bind and port:
        return (
            f"HAProxy exited at start: port {port.group(1)} on 127.0.0.1 is taken by another "
            f"program ({reason[max(reason.find('cannot bind'), 0) :]}): stop it "
            f"(`ss -ltnp 'sport = :{port.group(1)}'` names it), or run "
            f"`shipyard local down {state.env}` then `local up` to choose free ports"
        )
    return f"HAProxy exited at start: {reason or 'no reason given'}; see {log}"
