"""HealthSource for the local platform: HAProxy's view of each server, per color."""

from __future__ import annotations

from rollout.interfaces import ColorHealth, ServerHealth, ServerState
from rollout.platforms.local.runtime_api import RuntimeApi
from rollout.platforms.local.state import ServiceState
from shipyard.config.model import Color

STATES = {
    "UP": ServerState.UP,
    "DOWN": ServerState.DOWN,
    "DRAIN": ServerState.DRAINING,
    "MAINT": ServerState.MAINT,
    "NOLB": ServerState.DRAINING,
}


def server_state(status: str) -> ServerState:
    """HAProxy's status column: `UP`, `UP 1/3` (up, one failed check counted), `DOWN 1/2`
    (down, one passed check counted), `MAINT`, `DRAIN`. The word is the state now."""
    return STATES.get(status.split(" ", 1)[0].upper(), ServerState.DOWN)


class HaproxyHealth:
    """Servers' states and counters for one service's production backend."""

    def __init__(self, api: RuntimeApi, service: ServiceState) -> None:
        self.api = api
        self.service = service

    def snapshot(self) -> dict[Color, ColorHealth]:
        rows = {
            row["svname"]: row for row in self.api.stats() if row["pxname"] == self.service.backend
        }
        health: dict[Color, ColorHealth] = {}
        for color in Color:
            servers = []
            for slot in self.service.slots(color):
                row = rows.get(slot.name, {})
                servers.append(
                    ServerHealth(
                        name=slot.name,
                        color=color,
                        state=server_state(row.get("status", "DOWN")),
                        requests=_int(row, "stot"),
                        http_5xx=_int(row, "hrsp_5xx"),
                        connection_errors=_int(row, "econ"),
                        response_errors=_int(row, "eresp"),
                        check=row.get("check_status", ""),
                        response_ms=_int(row, "rtime"),
                    )
                )
            health[color] = _color(color, servers)
        return health

    def over_window(
        self, before: dict[Color, ColorHealth], after: dict[Color, ColorHealth]
    ) -> dict[Color, ColorHealth]:
        window = {}
        for color, now in after.items():
            then = {s.name: s for s in before.get(color, ColorHealth(color)).servers}
            zero = ServerHealth(name="", color=color, state=ServerState.DOWN)
            servers = [
                ServerHealth(
                    name=s.name,
                    color=color,
                    state=s.state,
                    requests=s.requests - then.get(s.name, zero).requests,
                    http_5xx=s.http_5xx - then.get(s.name, zero).http_5xx,
                    connection_errors=s.connection_errors
                    - then.get(s.name, zero).connection_errors,
                    response_errors=s.response_errors - then.get(s.name, zero).response_errors,
                    check=s.check,
                    response_ms=s.response_ms,
                )
                for s in now.servers
            ]
            window[color] = _color(color, servers)
        return window


def _color(color: Color, servers: list[ServerHealth]) -> ColorHealth:
    return ColorHealth(
        color=color,
        servers=servers,
        requests=sum(s.requests for s in servers),
        http_5xx=sum(s.http_5xx for s in servers),
        errors=sum(s.connection_errors + s.response_errors for s in servers),
        response_ms=max((s.response_ms for s in servers), default=0),
    )


def _int(row: dict[str, str], key: str) -> int:
    value = row.get(key) or "0"
    return int(value) if value.isdigit() else 0
