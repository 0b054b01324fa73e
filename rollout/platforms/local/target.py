"""The executor's Target for one service on the local platform."""

from __future__ import annotations

from pathlib import Path

from rollout.executor import Target
from rollout.platforms.local.fleet import LocalFleet
from rollout.platforms.local.health import HaproxyHealth
from rollout.platforms.local.router import HaproxyRouter
from rollout.platforms.local.runtime_api import RuntimeApi
from rollout.platforms.local.state import LocalState
from shipyard.config.model import Color, Service
from smoke import SmokeReport, SmokeSpec, run_smoke


def local_target(state: LocalState, service: Service, root: Path, spec: SmokeSpec) -> Target:
    api = RuntimeApi(state.socket)
    service_state = state.service(service.name)

    def smoke(version: str) -> SmokeReport:
        return run_smoke(service_state.test_url, spec, expect_version=version, service=service.name)

    def mark_active(color: Color, versions: dict[Color, str | None]) -> None:
        service_state.active_color = color
        state.save()

    return Target(
        router=HaproxyRouter(api, service_state),
        test_router=HaproxyRouter(api, service_state, backend=service_state.test_backend),
        fleet=LocalFleet(state, service, root),
        health=HaproxyHealth(api, service_state),
        smoke=smoke,
        mark_active=mark_active,
    )
