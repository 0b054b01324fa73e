"""The executor's Target for one service on the local platform, and the platform itself."""

from __future__ import annotations

from pathlib import Path

from rollout.executor import Target
from rollout.ledger import Ledger
from rollout.platforms.local.fleet import LocalFleet
from rollout.platforms.local.health import HaproxyHealth
from rollout.platforms.local.platform import local_up
from rollout.platforms.local.processes import alive
from rollout.platforms.local.router import HaproxyRouter
from rollout.platforms.local.runtime_api import RuntimeApi
from rollout.platforms.local.state import LocalState
from shipyard.config.load import StackSources
from shipyard.config.model import Color, Deploy, Service
from shipyard.errors import UsageError
from smoke import SmokeReport, SmokeSpec, load_spec, run_smoke


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


class LocalPlatform:
    """HAProxy and processes on 127.0.0.1; `start` brings the environment up when it is not
    (HAProxy died, say), as the ledger records it live when there is one."""

    name = "local"

    def __init__(
        self, sources: StackSources, environment: str, ledger: Ledger | None = None
    ) -> None:
        self.sources = sources
        self.environment = environment
        self.ledger = ledger

    def state(self, start: bool) -> LocalState:
        """The running environment; without `start`, one nobody started is refused, but one
        whose HAProxy died is restarted (as the ledger records it): it was meant to run."""
        state = LocalState.load(self.sources.root, self.environment)
        if start or (state is not None and not alive(state.haproxy_pid)):
            return local_up(self.sources, self.environment, self.ledger).state
        if state is None:
            raise UsageError(
                f"{self.environment} is not running locally: start it with "
                f"`shipyard local up {self.environment}`"
            )
        return state

    def target(self, service: Service, *, start: bool = True) -> Target:
        return local_target(self.state(start), service, self.sources.root, load_spec())

    def live(self, service: Service, *, start: bool = True) -> Color:
        return self.state(start).service(service.name).active_color

    def preflight(self, service: Service, policy: Deploy) -> None:
        """Nothing to refuse: readiness defaults fit, and probe traffic is AWS's only."""

    def urls(self, service: Service) -> dict[str, str]:
        running = self.state(start=False).service(service.name)
        return {"production": running.url, "test": running.test_url}
