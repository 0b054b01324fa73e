"""`shipyard local status ENV`: what runs, as HAProxy sees it."""

from __future__ import annotations

from typing import Any

from rollout.platforms.local.processes import alive
from rollout.platforms.local.router import HaproxyRouter
from rollout.platforms.local.runtime_api import RuntimeApi, RuntimeApiError
from rollout.platforms.local.state import LocalState
from shipyard.config.load import StackSources
from shipyard.config.model import Color


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
