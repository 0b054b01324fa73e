"""The executor's Target for one service on AWS, and the AWS platform itself.

Resources come from the stack's outputs; clients from `shipyard.aws` (retries, explained
errors, counted calls). When a rollout ends, the live color and versions are written back into
the stack config (`shipyard.config.record`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx

from rollout.executor import Target
from rollout.interfaces import ServerState
from rollout.load import LOOPBACK
from rollout.platforms.aws.fleet import EcsFleet
from rollout.platforms.aws.health import AwsHealth, TargetHealth
from rollout.platforms.aws.outputs import StackOutputs
from rollout.platforms.aws.probe import Probe
from rollout.platforms.aws.probe_site import (
    LoadBalancer,
    ProbeSite,
    driven_load_balancer,
    probe_url,
    require_driven_suffix,
)
from rollout.platforms.aws.router import ElbRouter, ElbTestRouter
from rollout.readiness import ready_timeout_problem
from shipyard.aws import Aws
from shipyard.config.load import StackSources
from shipyard.config.model import Color, Deploy, ProbeTraffic, Service
from shipyard.config.record import record_live
from shipyard.errors import UsageError
from smoke import SmokeReport, SmokeSpec, load_spec, run_smoke

Recorded = Callable[[list[Path]], None]
EMULATOR_POLL_SECONDS = 0.2


def unreachable_fix_for(environment: str) -> str:
    """What to change when the deployer cannot connect to the test listener at all."""
    return (
        f"add the address this deployer runs from to network.testAccessCidrs in "
        f"stacks/{environment}.yaml, then run `shipyard stacks render` and `pulumi up` "
        '(docs/aws.md, "Reaching the test listener")'
    )


class AwsPlatform:
    name = "aws"

    def __init__(
        self,
        sources: StackSources,
        environment: str,
        outputs: StackOutputs,
        aws: Aws,
        *,
        spec: SmokeSpec | None = None,
        target_health: TargetHealth | None = None,
        on_recorded: Recorded | None = None,
    ) -> None:
        self.sources = sources
        self.environment = environment
        self.outputs = outputs
        self.region = aws.region
        # An emulator on loopback (tests, docs/aws.md "Against a local emulator") plays the ALB
        # on loopback too; against real AWS only the stack's own load balancer is probed.
        endpoint = aws.endpoint_url
        self.emulated = endpoint is not None and httpx.URL(endpoint).host in LOOPBACK
        self.elbv2 = aws.client("elbv2")
        self._driven: dict[str, LoadBalancer] = {}  # production listener -> its load balancer
        self.ecs = aws.client("ecs")
        self.cloudwatch = aws.client("cloudwatch")
        self.spec = spec
        self.target_health = target_health
        self.on_recorded = on_recorded or (lambda files: None)

    def target(self, service: Service, *, start: bool = True) -> Target:
        out = self.outputs.service(service.name)
        health = AwsHealth(
            self.elbv2,
            self.cloudwatch,
            out.target_groups,
            out.alarms,
            target_health=self.target_health,
            load_balancer_arn=out.load_balancer,
        )

        def targets_healthy(color: Color) -> bool:
            servers = health.servers(color)
            return bool(servers) and all(s.state is ServerState.UP for s in servers)

        fleet = EcsFleet(
            self.ecs,
            out.cluster,
            out.ecs_services,
            desired_count=service.desired_count,
            idle_count=service.idle_desired_count,
            targets_healthy=targets_healthy,
            environment=self.environment,
            container=service.name,
            templates=out.task_definitions,
            # An emulator answers in a millisecond and its tasks start in one: no need to wait
            # the 2 s that spare AWS's API rate limits.
            poll_seconds=EMULATOR_POLL_SECONDS if self.emulated else 2.0,
        )
        spec = self.spec or load_spec()

        def smoke(version: str) -> SmokeReport:
            return run_smoke(
                out.test_url,
                spec,
                expect_version=version,
                service=service.name,
                unreachable_fix=unreachable_fix_for(self.environment),
            )

        def mark_active(color: Color, versions: dict[Color, str | None]) -> None:
            files = record_live(self.sources, self.environment, service.name, color, versions)
            self.on_recorded(files)

        def probe(settings: ProbeTraffic) -> Probe:
            return self.probe(service, settings)

        return Target(
            router=ElbRouter(self.elbv2, out.production_listener, out.target_groups),
            test_router=ElbTestRouter(self.elbv2, out.test_listener, out.target_groups),
            fleet=fleet,
            health=health,
            smoke=smoke,
            mark_active=mark_active,
            probe=probe,
        )

    def driven(self, service: Service) -> LoadBalancer:
        """The load balancer behind the service's production listener, read from ELBv2 once
        per listener (a listener never moves to another load balancer)."""
        listener = self.outputs.service(service.name).production_listener
        if listener not in self._driven:
            self._driven[listener] = driven_load_balancer(self.elbv2, listener)
        return self._driven[listener]

    def probe(self, service: Service, settings: ProbeTraffic) -> Probe:
        """The probe toward the load balancer behind the production listener, unstarted;
        UsageError when the outputs point anywhere else (probe_site)."""
        out = self.outputs.service(service.name)
        where = f"{self.outputs.source}: services.{service.name}"
        site = ProbeSite(out.url, out.load_balancer, where, self.region, self.emulated)
        url = probe_url(site, self.driven(service), settings.path)
        return Probe(url, settings.rate_per_second, settings.max_seconds)

    def preflight(self, service: Service, policy: Deploy) -> None:
        """Refuse what can never work here before anything is recorded or announced: a
        readiness timeout the target group cannot meet, an `albArnSuffix` (the analysis'
        load balancer) or probe traffic for anything but the load balancer shipyard drives."""
        problem = ready_timeout_problem(policy, service)
        if problem is not None:
            raise UsageError(f"stacks/{self.environment}.yaml: {problem}")
        out = self.outputs.service(service.name)
        where = f"{self.outputs.source}: services.{service.name}"
        require_driven_suffix(out.load_balancer, self.driven(service), where)
        if policy.probe_traffic is not None:
            self.probe(service, policy.probe_traffic)  # built, never started: only checked

    def urls(self, service: Service) -> dict[str, str]:
        out = self.outputs.service(service.name)
        return {"production": out.url, "test": out.test_url}

    def live(self, service: Service, *, start: bool = True) -> Color:
        """The color with the larger production weight, read from the listener."""
        weights = self.target(service).router.weights()
        return max(Color, key=lambda c: (weights[c], c is service.active_color))
