"""The harness process: moto server for the control plane, real processes and HAProxy for the
data plane, CloudWatch fed from the traffic. `python -m aws_harness serve` runs it; the
`AwsWorld` fixture (aws_harness.fixture) starts and stops it.

On start it creates the stack's resources in moto (aws_harness.seed, a test's `pulumi up`),
starts HAProxy and every color's tasks, and writes the stack's outputs (`pulumi stack output
--json`, with `url` and `testUrl` pointing at the listeners on loopback) and a ready file. Then
every `TICK` seconds it moves the tasks toward what moto says and reports target health; every
`interval` seconds it puts the ALB's metrics and evaluates the alarms. SIGTERM stops every
process it started.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

from moto.server import ThreadedMotoServer

from aws_harness.dataplane import LISTENERS, DataPlane
from aws_harness.metrics import Key, Metrics
from aws_harness.moto_side import TargetHealthBook, after, backend
from aws_harness.seed import clients_for, seed, stack_outputs
from aws_harness.tasks import ColorService, Ecs
from parity.render import render_stack
from rollout.platforms.aws.health import arn_suffix
from rollout.platforms.local.owned import stop_strays
from rollout.platforms.local.processes import alive, stop
from shipyard.config.load import StackSources, load_stack
from shipyard.config.model import Color, traffic_shares

TICK = 0.05
SETTLE_TIMEOUT = 30.0
VERDICTS = ("healthy", "unhealthy")
log = logging.getLogger("aws_harness")


class World:
    def __init__(
        self, project: Path, env: str, directory: Path, speedup: float, interval: float
    ) -> None:
        self.project, self.env, self.directory = project, env, directory
        self.speedup, self.interval = speedup, interval
        self.lock = threading.RLock()
        self.warned: set[tuple[str, str, str | None]] = set()
        self.stopping = threading.Event()
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)

    # -- start -----------------------------------------------------------------------------

    def start(self) -> dict[str, Any]:
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        sources = StackSources(self.project)
        stack = render_stack(sources, self.env)
        config = load_stack(sources, self.env).config
        self.clients = clients_for(self.endpoint)
        seeded = seed(stack, *(self.clients[n] for n in ("ec2", "elbv2", "ecs", "cloudwatch")))
        self.plane = DataPlane(self.directory, self.env, config)
        self.plane.start()
        outputs = stack_outputs(
            stack, seeded, {s.name: self.plane.url(s.name, "test") for s in config.services}
        )
        self.outputs = outputs
        self.elbv2 = backend("elbv2", config.region)
        ecs = backend("ecs", config.region)
        book = TargetHealthBook()
        for target_group in self.elbv2.target_groups.values():
            book.install(target_group)
        colors = []
        dimensions: dict[Key, list[dict[str, str]]] = {}
        for index, service in enumerate(config.services):
            out = outputs["services"][service.name]
            out["url"] = self.plane.url(service.name, "production")
            balancer = {"Name": "LoadBalancer", "Value": out["albArnSuffix"]}
            dimensions[(service.name, None)] = [balancer]
            for color in Color:
                group = out["targetGroupArns"][color.value]
                colors.append(
                    ColorService(out["ecsServiceNames"][color.value], service, index, color, group)
                )
                dimensions[(service.name, color)] = [
                    {"Name": "TargetGroup", "Value": arn_suffix(group, "targetgroup/")},
                    balancer,
                ]
        self.ecs = Ecs(self.plane, ecs, self.elbv2, seeded.cluster, colors, book, self.project)
        self.metrics = Metrics(
            self.plane.log, self.clients["cloudwatch"], dimensions, self._color_of, self.speedup
        )
        self.metrics.load_alarms()
        after(ecs, "update_service", lambda result, args, kwargs: self._changed())
        after(self.elbv2, "modify_listener", lambda result, args, kwargs: self._changed())
        with self.lock:
            self._tick()  # the tasks start at once
        (self.directory / "outputs.json").write_text(json.dumps(outputs, indent=2) + "\n")
        return {
            "endpoint": self.endpoint,
            "region": config.region,
            "outputs": str(self.directory / "outputs.json"),
            "haproxy_socket": str(self.plane.state.socket),
            "services": {
                s.name: {listener: self.plane.url(s.name, listener) for listener in LISTENERS}
                for s in config.services
            },
            "pid": os.getpid(),
        }

    def settle(self, timeout: float = SETTLE_TIMEOUT) -> bool:
        """Move the tasks until every one the stack asks for has passed or failed its first
        health checks: a world is ready as a stack that has been up a while is, its listeners
        serving, not answering 503 while its first tasks boot. False when `timeout` ran out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                self._tick()
                if all(self._settled(record) for record in self.ecs.colors):
                    return True
            time.sleep(TICK)
        return False

    def _settled(self, record: ColorService) -> bool:
        """Every task the color asks for has a health verdict, or none can run: its tasks
        exit before becoming healthy, or its revision has no container to run."""
        definition, count = self.ecs.desired(record)
        if record.exits or definition in record.refused:
            return True
        tasks = record.running()
        return len(tasks) >= count and all(t.health in VERDICTS for t in tasks)

    def _color_of(self, backend_name: str, server: str) -> tuple[str, Color] | None:
        service = backend_name.removesuffix("_test")
        for color in Color:
            if server.startswith(color.value):
                return service, color
        return None

    # -- the loop --------------------------------------------------------------------------

    def _changed(self) -> None:
        """In the request that changed a service or a listener: report and route at once.
        Never fails the request: moto has stored the change already."""
        try:
            with self.lock:
                for record in self.ecs.colors:
                    self.ecs.publish(record)
                self.route()
        except Exception:
            log.exception("could not apply a change made through the API")

    def route(self) -> None:
        """Each listener's forward weights, as moto holds them, onto HAProxy's servers. Only
        the service's own target groups are served: a share forwarded anywhere else (another
        target group, a redirect) reaches no target here."""
        for name, service in self.outputs["services"].items():
            mine = {r.target_group: r for r in self.ecs.colors if r.service.name == name}
            for listener in LISTENERS:
                (found,) = self.elbv2.describe_listeners(None, [service["listenerArns"][listener]])
                action = found.default_actions[0].data
                groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or [
                    {"TargetGroupArn": action.get("TargetGroupArn"), "Weight": 1}
                ]
                raw = dict.fromkeys(Color, 0)
                for group in groups:
                    if group.get("TargetGroupArn") in mine:
                        raw[mine[group["TargetGroupArn"]].color] += int(group.get("Weight", 1))
                    elif (name, listener, group.get("TargetGroupArn")) not in self.warned:
                        self.warned.add((name, listener, group.get("TargetGroupArn")))
                        log.warning(
                            "%s's %s listener forwards to %s, not one of its target groups: "
                            "nothing serves that share",
                            name,
                            listener,
                            group.get("TargetGroupArn") or action.get("Type"),
                        )
                active = [t.slot for r in mine.values() for t in r.tasks if t.state == "registered"]
                self.plane.route(name, listener, traffic_shares(raw), active)

    def _tick(self) -> None:
        rows = self.plane.rows()
        if self.ecs.reconcile(rows):
            self.route()

    def _health_counts(self) -> dict[tuple[str, Color], tuple[int, int]]:
        counts = {}
        for record in self.ecs.colors:
            states = [t.health for t in record.tasks if t.state == "registered"]
            counts[(record.service.name, record.color)] = (
                states.count("healthy"),
                states.count("unhealthy"),
            )
        return counts

    def run(self, parent: int | None = None) -> None:
        """Until stopped, or (given `parent`) until the process that started it is gone. A
        failing pass is logged and the next one tries again: the world stays up."""
        next_metrics = time.monotonic() + self.interval
        while not self.stopping.is_set():
            if parent is not None and os.getppid() != parent:
                log.warning("the process that started the harness is gone: stopping")
                break
            try:
                with self.lock:
                    self._tick()
                    counts = self._health_counts()
                if time.monotonic() >= next_metrics:
                    next_metrics = time.monotonic() + self.interval
                    self.metrics.publish(self.metrics.collect(counts))
                    self.metrics.evaluate()
            except Exception:
                log.exception("harness pass failed")
            self.stopping.wait(TICK)

    # -- stop ------------------------------------------------------------------------------

    def stop(self) -> None:
        self.stopping.set()
        with self.lock:
            colors = self.ecs.colors if hasattr(self, "ecs") else []
            tasks = [task for record in colors for task in record.tasks]
            for task in tasks:
                if alive(task.slot.pid):
                    os.kill(task.slot.pid or 0, signal.SIGTERM)
            for task in tasks:
                stop(task.slot.pid, task.slot.started)
            if hasattr(self, "plane"):
                self.plane.stop()
        stop_strays(self.directory)
        self.server.stop()


def serve(
    project: Path,
    env: str,
    directory: Path,
    ready: Path,
    speedup: float,
    interval: float,
    parent: int | None = None,
) -> None:
    """Run the world until SIGTERM, SIGINT or SIGHUP, or until `parent` is gone."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto server's access log
    for name, value in (("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test")):
        os.environ.setdefault(name, value)
    directory.mkdir(parents=True, exist_ok=True)
    world = World(project, env, directory, speedup, interval)
    for stop_on in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(stop_on, lambda *_: world.stopping.set())
    try:
        facts = world.start()
        if not world.settle():
            log.warning("tasks still without a health verdict after %g s", SETTLE_TIMEOUT)
        temporary = ready.with_suffix(".tmp")
        temporary.write_text(json.dumps(facts, indent=2) + "\n")
        os.replace(temporary, ready)
        world.run(parent)
    finally:
        world.stop()
