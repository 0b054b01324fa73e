"""Probe traffic (`deploy.probeTraffic`) during `shipyard deploy --platform aws` against moto.

As in test_aws_deploy.py, the stack is applied by the seeder and its outputs written to a file;
here the service's production `url` points at a counting HTTP server on 127.0.0.1, the ALB's
stand-in (moto serves no listener traffic), and the test listener at the sample service.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from aws_harness.seed import apply_stack, clients_for, stack_outputs
from parity.render import render_stack
from rollout.ledger import SqliteLedger
from rollout.platforms.aws.probe import THREAD_NAME
from shipyard.config.load import StackSources
from shipyard.stacks import plan_stack_files, write_stack_files
from tests.conftest import CliResult
from tests.integration.conftest import Start

pytestmark = pytest.mark.usefixtures("calls_within_policy")

RATE = 20
POLICY = """deploy:
  trafficSteps: [50, 100]
  bakeSeconds: 1
  scaleDownDelaySeconds: 60
  analysis:
    minRequests: 0
  probeTraffic:
    ratePerSecond: {rate}
    path: /healthz
"""
NO_PROBE = POLICY[: POLICY.index("  probeTraffic:")]


class Counter:
    """A loopback HTTP server that remembers when each request came, and for what."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[dt.datetime, str, str]] = []
        counter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                counter.arrivals.append((dt.datetime.now(dt.UTC), self.command, self.path))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@pytest.fixture
def counter() -> Iterator[Counter]:
    found = Counter()
    found.thread.start()
    yield found
    found.server.shutdown()
    found.server.server_close()


def setup(
    moto_url: str,
    project: StackSources,
    sample: Start,
    tmp: Path,
    production_url: str,
    *,
    policy: str = "",
    outputs_edit: Callable[[dict[str, Any]], None] = lambda web: None,
    probe: bool = True,
) -> tuple[list[str], SqliteLedger]:
    httpx.post(f"{moto_url}/moto-api/reset", timeout=30).raise_for_status()
    overlay = project.overlay("dev")
    text = overlay.read_text(encoding="utf-8")
    policy = (POLICY.format(rate=RATE) if probe else NO_PROBE) + policy
    overlay.write_text(text[: text.index("deploy:")] + policy, encoding="utf-8")
    write_stack_files(project, plan_stack_files(project))
    stack = render_stack(project, "dev")
    seeded = apply_stack(stack, clients_for(moto_url))
    outputs = stack_outputs(stack, seeded, {"web": sample("v3")})
    outputs["services"]["web"]["url"] = production_url
    outputs_edit(outputs["services"]["web"])
    path = tmp / "outputs.json"
    path.write_text(json.dumps(outputs))
    ledger = tmp / "ledger.db"
    args = ["--platform", "aws", "--stack-outputs", str(path), "--endpoint-url", moto_url]
    return [*args, "--ledger", str(ledger)], SqliteLedger(ledger)


def deploy(cli: Callable[..., CliResult], project: StackSources, args: list[str]) -> CliResult:
    return cli(
        "deploy", "dev", "--service", "web", "--version", "v3", *args, project=project
    )  # fmt: skip


def test_probe_requests_reach_the_production_url_only_during_the_rollout(
    moto_url: str,
    project: StackSources,
    sample: Start,
    tmp_path: Path,
    counter: Counter,
    cli: Callable[..., CliResult],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MOTO_ECS_SERVICE_RUNNING", "true")  # moto: deployments complete
    args, ledger = setup(moto_url, project, sample, tmp_path, counter.url)
    assert counter.arrivals == []

    result = deploy(cli, project, args)

    assert result.code == 0, result
    events = {e.kind: e for e in ledger.events("dev")}
    started = dt.datetime.fromisoformat(events["probe-started"].at)
    stopped = dt.datetime.fromisoformat(events["probe-stopped"].at)
    shifts = [e for e in ledger.events("dev") if e.kind == "weights-set"]
    # Two bakes of 1 s at 20 a second: requests arrived, all paced GETs of the policy's path.
    arrivals = list(counter.arrivals)
    assert len(arrivals) >= RATE
    assert {(method, path) for _, method, path in arrivals} == {("GET", "/healthz")}
    assert all(started <= at <= stopped for at, _, _ in arrivals)
    assert started <= dt.datetime.fromisoformat(shifts[1].at)  # from the first production shift
    assert events["probe-stopped"].data["sent"] == len(arrivals)
    # Bounded: never more than the rate allows over the time it ran (one per slot, plus one).
    assert len(arrivals) <= RATE * (stopped - started).total_seconds() + 1
    # Stopped before the command returned: no probe thread is left to send anything more.
    assert not [t for t in threading.enumerate() if t.name == THREAD_NAME]
    assert len(counter.arrivals) == len(arrivals)


def test_a_production_url_elsewhere_is_refused_before_anything_changes(
    moto_url: str,
    project: StackSources,
    sample: Start,
    tmp_path: Path,
    cli: Callable[..., CliResult],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MOTO_ECS_SERVICE_RUNNING", "true")
    args, ledger = setup(moto_url, project, sample, tmp_path, "http://example.com")

    result = deploy(cli, project, args)

    assert result.code == 2, result
    assert "services.web.url is 'http://example.com', not the stack's own load balancer" in (
        result.err
    )
    assert "Traceback" not in result.err
    assert [e.kind for e in ledger.events("dev") if e.rollout] == []  # no rollout began


@pytest.fixture
def hook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A loopback webhook receiver (as in tests/e2e/test_notifications.py)."""
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


def evil_suffix(web: dict[str, Any]) -> None:
    web["albArnSuffix"] = "app/evil/1"


REFUSALS = {
    # albArnSuffix edited: not the load balancer of the listener shipyard drives.
    "albArnSuffix": ("", evil_suffix, "services.web.albArnSuffix is 'app/evil/1', but the "),
    # A readiness timeout the target group's checks (3 x 10 s + 5 s) can never meet.
    "readiness": ("  readyTimeoutSeconds: 20\n", None, "deploy.readyTimeoutSeconds is 20 but"),
    "none": ("", None, None),  # the control: the same deploy, gated and announced
    # Without probe traffic too: the analysis reads HTTPCode_ELB_5XX_Count under albArnSuffix.
    "albArnSuffix-unprobed": ("", evil_suffix, "services.web.albArnSuffix is 'app/evil/1'"),
}


@pytest.mark.parametrize("refusal", sorted(REFUSALS))
def test_a_refused_deploy_leaves_the_ledger_and_the_webhook_untouched(
    moto_url: str,
    project: StackSources,
    sample: Start,
    tmp_path: Path,
    counter: Counter,
    hook: tuple[str, list[dict[str, Any]]],
    cli: Callable[..., CliResult],
    monkeypatch: pytest.MonkeyPatch,
    refusal: str,
) -> None:
    monkeypatch.setenv("MOTO_ECS_SERVICE_RUNNING", "true")
    extra, edit, message = REFUSALS[refusal]
    webhook, received = hook
    gated = f"  approvals:\n    required: 1\n  webhookUrl: {webhook}\n{extra}"
    args, ledger = setup(
        moto_url, project, sample, tmp_path, counter.url, policy=gated,
        outputs_edit=edit or (lambda web: None), probe=not refusal.endswith("-unprobed"),
    )  # fmt: skip
    approval = {"service": "web", "version": "v3", "commit": "unknown", "reviewer": "bob"}
    ledger.append("dev", "approval", approval)
    before = [(e.kind, e.data) for e in ledger.events("dev")]

    result = deploy(cli, project, [*args, "--author", "ada", "--by", "ci"])

    kinds = [e.kind for e in ledger.events("dev")]
    if message is None:  # nothing refused: the gate records and the webhook announces
        assert result.code == 0, result
        assert "gate-passed" in kinds and received[0]["shipyard"]["event"] == "started"
        return
    assert result.code == 2, result
    assert message in result.err and "Traceback" not in result.err
    assert [(e.kind, e.data) for e in ledger.events("dev")] == before  # no gate-passed
    assert received == []  # no "started"
    assert counter.arrivals == []
