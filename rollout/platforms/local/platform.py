"""`shipyard local up|down|status ENV`: HAProxy and app processes for each service, on loopback."""

from __future__ import annotations

from dataclasses import dataclass

from rollout.ledger import Ledger
from rollout.platforms.local.apps import await_all_ready, start_app
from rollout.platforms.local.haproxy import (
    LocalPlatformError,
    await_haproxy_api,
    await_haproxy_up,
    haproxy_binary,
    log_offset,
    spawn_haproxy,
    write_config,
)
from rollout.platforms.local.lock import (
    StateLeftBehind,
    platform_lock,
    require_writable,
    unwritable,
)
from rollout.platforms.local.owned import command_of, listener, stop_strays, strays
from rollout.platforms.local.processes import (
    alive,
    free_port,
    port_taken,
    started_at,
    stop,
)
from rollout.platforms.local.state import LocalState, ServerSlot, ServiceState
from rollout.state import LiveService, live_services
from shipyard.config.load import StackSources, load_stack
from shipyard.config.model import Color, Service, StackConfig, Versions


@dataclass(frozen=True)
class UpResult:
    state: LocalState
    started: bool  # False when everything was already running


def local_up(sources: StackSources, env: str, ledger: Ledger | None = None) -> UpResult:
    """Start HAProxy and every service's blue and green processes; safe to run twice, and
    one at a time (platform_lock). With a ledger, each service comes back as the ledger
    records it live (color and versions), not as the stack file first declared it."""
    config = load_stack(sources, env).config  # validates first: a bad config starts nothing
    haproxy = haproxy_binary()
    with platform_lock(sources.root, env):
        existing = LocalState.load(sources.root, env)
        if existing is not None and _all_running(existing):
            return UpResult(existing, started=False)
        state = LocalState.fresh(sources.root, env)
        require_writable(state.directory, state.directory / "logs")
        if existing is not None:
            # Half-alive leftovers (HAProxy died): start clean on the same ports, so URLs
            # and background traffic (`local traffic`) carry on; a port another program
            # took is refused before anything of ours stops.
            _require_ports_free(existing)
            _stop_everything(existing, keep_traffic=True)
        stop_strays(state.directory)  # a killed `up` may have left some unrecorded
        live = live_services(ledger.events(env)) if ledger is not None else {}
        retired = {name: now.retired for name, now in live.items() if now.retired}
        _start(sources, state, recorded(config, live), haproxy, existing, retired)
    return UpResult(state, started=True)


def recorded(config: StackConfig, live: dict[str, LiveService]) -> StackConfig:
    """The stack config with each service's live color and versions as the ledger has them."""
    services = []
    for service in config.services:
        now = live.get(service.name)
        if now is not None and now.versions[now.color] is not None:
            versions = Versions(blue=now.versions[Color.BLUE], green=now.versions[Color.GREEN])
            update = {"active_color": now.color, "versions": versions, "weights": None}
            service = service.model_copy(update=update)
        services.append(service)
    return config.model_copy(update={"services": services})


def _start(
    sources: StackSources,
    state: LocalState,
    config: StackConfig,
    haproxy: str,
    before: LocalState | None,
    retired: dict[str, Color],
) -> None:
    """Each pid is in the state file as soon as it is spawned, before it is awaited: an `up`
    killed at any point leaves nothing `down` cannot find. A color `scale-down` retired
    stays stopped (its HAProxy servers in maintenance) until a rollout starts it."""
    for service in config.services:
        state.services.append(_plan_service(service, before))
    state.save()
    try:
        for service_config in config.services:
            service_state = state.service(service_config.name)
            for slot in service_state.servers:
                if retired.get(service_config.name) is slot.color:
                    continue
                slot.version = service_config.version_of(slot.color)
                slot.pid = start_app(sources.root, state, service_config, slot)
                slot.started = started_at(slot.pid)
                state.save()
        await_all_ready(state, config)  # before HAProxy, so its first checks pass
        write_config(state, config)
        offset = log_offset(state)
        state.haproxy_pid = spawn_haproxy(haproxy, state)
        state.haproxy_started = started_at(state.haproxy_pid)
        state.save()
        await_haproxy_api(state, state.haproxy_pid, offset)
        await_haproxy_up(state)
    except BaseException:
        _stop_everything(state)
        _keep_ports(state)
        raise


def _keep_ports(state: LocalState) -> None:
    """After a failed start: nothing runs, but the ports stay recorded, so the next `up`
    uses them again (the URLs and `local traffic` stay right); `down` forgets them."""
    state.haproxy_pid = state.haproxy_started = None
    for service in state.services:
        for slot in service.servers:
            slot.pid = slot.started = None
    try:
        state.save()
    except OSError:
        _forget(state)


def _require_ports_free(state: LocalState) -> None:
    """Refuse (one line, the port and who holds it) a recorded port that a process this
    environment does not own listens on: restarting would fail there, or worse, share it."""
    recorded = [state.haproxy_pid] + [s.pid for svc in state.services for s in svc.servers]
    ours = set(strays(state.directory)) | {pid for pid in recorded if pid is not None}
    for service in state.services:
        ports = [(service.port, "production frontend"), (service.test_port, "test frontend")]
        ports += [(slot.port, slot.name) for slot in service.servers]
        for port, what in ports:
            if not port_taken(port):
                continue
            holder = listener(port)
            if holder is None or holder not in ours:
                who = f"pid {holder} ({command_of(holder)})" if holder else "another user's process"
                raise LocalPlatformError(
                    f"{state.env}: port {port} on 127.0.0.1 ({service.name} {what}) is taken "
                    f"by {who}, which `local up` did not start: stop it, or run `shipyard "
                    f"local down {state.env}` then `local up {state.env}` to choose free ports"
                )


def local_down(sources: StackSources, env: str) -> LocalState | None:
    """Stop what `up` started: by pid from its state, and whatever else carries this
    environment's mark (an `up` killed before it wrote a pid down); nothing to do is fine.
    What runs is stopped even when the state cannot be written (a read-only .shipyard):
    that is reported after."""
    with platform_lock(sources.root, env, required=False):
        state = LocalState.load(sources.root, env)
        if state is not None:
            _stop_everything(state)
        found = stop_strays(LocalState.fresh(sources.root, env).directory)
        if state is None:
            return LocalState.fresh(sources.root, env) if found else None
        left = _forget(state)
    if left is not None:
        raise StateLeftBehind(f"{env}: stopped every process, but {left}")
    return state


def _stop_everything(state: LocalState, keep_traffic: bool = False) -> None:
    from rollout.platforms.local.traffic import stop_traffic

    if not keep_traffic:
        stop_traffic(state)
    stop(state.haproxy_pid, state.haproxy_started)
    for service in state.services:
        for slot in service.servers:
            stop(slot.pid, slot.started)


def _forget(state: LocalState) -> str | None:
    """Remove what a stopped environment leaves on disk; why not, when it cannot."""
    for leftover in (state.socket, state.pid_file, state.state_file):
        try:
            leftover.unlink(missing_ok=True)
        except OSError as error:
            return unwritable(leftover.parent, error)
    return None


def _plan_service(service: Service, before: LocalState | None) -> ServiceState:
    """Ports for the service: those it had before a restart, else free ones."""
    was = next((s for s in before.services if s.name == service.name), None) if before else None
    ports = {slot.name: slot.port for slot in was.servers} if was else {}
    slots = [
        ServerSlot(
            name=f"{color.value}{index}",
            color=color,
            port=ports.get(f"{color.value}{index}") or free_port(),
        )
        for color in Color
        for index in range(1, service.desired_count + 1)
    ]
    return ServiceState(
        name=service.name,
        port=was.port if was else free_port(),
        test_port=was.test_port if was else free_port(),
        active_color=service.active_color,
        servers=slots,
    )


def _all_running(state: LocalState) -> bool:
    """HAProxy up, and every live color's processes up (an idle color may be stopped: a
    rollback or a finished scale-down stops it on purpose)."""
    return alive(state.haproxy_pid) and all(
        alive(slot.pid)
        for service in state.services
        for slot in service.slots(service.active_color)
    )
