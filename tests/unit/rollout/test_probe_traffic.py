"""Probe traffic (`deploy.probeTraffic`): sent only while a rollout shifts traffic, stopped on
every way out, only ever to the stack's own load balancer, and bounded in rate and time."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from rollout.executor import Executor, ProbeFactory, Target
from rollout.fakes import FakeTraffic
from rollout.plan import Release, build_plan, shift
from rollout.platforms.aws.probe import Probe
from shipyard.config.model import ProbeTraffic
from tests.unit.rollout.test_executor import BLUE, GREEN, World

PROBE = {"probeTraffic": {"ratePerSecond": 5, "path": "/healthz"}}
ALB = "app/web-alb-1a2b3c4/50dc6c495c0c9188"
OWN = "http://web-alb-1a2b3c4-1234567890.us-east-1.elb.amazonaws.com"


class ProbedWorld(World):
    """The executor's fakes, with a platform whose probe is a FakeTraffic."""

    def __init__(self, tmp: Path, **policy: Any) -> None:
        super().__init__(tmp, **policy)
        self.probe = FakeTraffic()
        self.asked: list[ProbeTraffic] = []
        self.interrupt_at: str | None = None  # a step kind that raises KeyboardInterrupt

    def make_probe(self, settings: ProbeTraffic) -> FakeTraffic:
        self.asked.append(settings)
        return self.probe

    def sleep(self, seconds: float) -> None:
        if self.interrupt_at == "bake":
            raise KeyboardInterrupt
        super().sleep(seconds)

    def probe_factory(self) -> ProbeFactory:
        return self.make_probe

    def probe_events(self) -> list[str]:
        """Ledger kinds around the probe: when it started and stopped among the steps."""
        wanted = ("probe-started", "probe-stopped", "rollback-started", "outcome")
        out = []
        for event in self.ledger.events():
            if event.kind in wanted:
                out.append(event.kind)
            elif event.kind == "step-started":
                out.append(event.data["step"]["kind"])
        return out


def test_the_probe_sends_from_the_first_shift_until_finalise(tmp_path: Path) -> None:
    world = ProbedWorld(tmp_path, **PROBE)
    assert world.run().status == "succeeded"
    assert world.asked == [ProbeTraffic(rate_per_second=5, path="/healthz")]
    assert world.probe.events == ["start", "stop"]
    events = world.probe_events()
    assert events[:5] == ["prepare", "await-healthy", "smoke", "shift", "probe-started"]
    assert events[-4:] == ["analyse", "finalise", "probe-stopped", "outcome"]


def test_without_the_setting_there_is_no_probe(tmp_path: Path) -> None:
    world = ProbedWorld(tmp_path)
    assert world.run().status == "succeeded"
    assert world.asked == [] and world.probe.events == []


def test_a_smoke_failure_rolls_back_without_ever_probing(tmp_path: Path) -> None:
    world = ProbedWorld(tmp_path, **PROBE)
    world.smoke_ok = False
    assert world.run().status == "rolled-back"
    # The rollback's own shift to the stable color does not start it.
    assert world.probe.events == []
    assert "probe-started" not in world.probe_events()


def test_a_failed_analysis_stops_the_probe_before_the_rollback(tmp_path: Path) -> None:
    world = ProbedWorld(tmp_path, **PROBE)
    world.traffic = (1000, 300)  # 30% 5xx
    assert world.run().status == "rolled-back"
    assert world.probe.events == ["start", "stop"]
    events = world.probe_events()
    assert events.index("probe-stopped") < events.index("rollback-started")


def test_a_paused_rollout_stops_the_probe(tmp_path: Path) -> None:
    world = ProbedWorld(tmp_path, **PROBE)
    world.traffic = (10, 0)  # too few requests: inconclusive, paused
    assert world.run().status == "paused"
    assert world.probe.events == ["start", "stop"]
    assert world.probe_events()[-2:] == ["probe-stopped", "outcome"]


def test_ctrl_c_during_a_bake_stops_the_probe(tmp_path: Path) -> None:
    world = ProbedWorld(tmp_path, **PROBE)
    world.interrupt_at = "bake"
    with pytest.raises(KeyboardInterrupt):
        world.run()
    assert world.probe.events == ["start", "stop"]


# -- bounded ------------------------------------------------------------------------------


def test_the_probe_stops_by_itself_at_its_time_limit_and_is_paced() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200)

    probe = Probe(OWN + "/healthz", 20, 0.25, transport=httpx.MockTransport(answer))
    probe.start()
    assert probe._thread is not None
    probe._thread.join(timeout=5)  # never stopped: the time limit ends it
    assert not probe._thread.is_alive()
    # 20 a second for 0.25 s: at most 6 (one at the start of each 50 ms slot), never back to back.
    assert 1 <= len(seen) <= 6
    assert set(seen) == {OWN + "/healthz"}
    assert probe.stop() == {"url": OWN + "/healthz", "sent": len(seen), "failed": 0}


def test_a_redirect_is_never_followed() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(301, headers={"Location": "http://example.com/"})

    probe = Probe(OWN, 20, 0.1, transport=httpx.MockTransport(answer))
    probe.start()
    figures = probe.stop()
    assert set(seen) <= {OWN} and figures["sent"] == len(seen)
    assert probe.statuses.get(301, 0) == len(seen)


def test_an_instant_rollback_analyses_nothing_and_gets_no_probe(tmp_path: Path) -> None:
    world = ProbedWorld(tmp_path, **PROBE)
    plan = build_plan("dev", Release("web", "v2"), world.policy, BLUE, "v1")
    instant = replace(plan, steps=(shift(BLUE, GREEN, 100), plan.steps[-1]))
    target = Target(
        router=world.router,
        test_router=world.test_router,
        fleet=world.fleet,
        health=world.health,
        smoke=world.smoke,
        mark_active=lambda color, versions: None,
        probe=world.make_probe,
    )
    assert Executor(instant, target, world.ledger, sleep=world.sleep).run().succeeded
    assert world.asked == [] and world.probe.events == []


class Dripper:
    """A loopback server that answers one byte at a time, forever: in the status line's
    headers (`headers`), or after complete headers, in a long body (`body`)."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.connected = threading.Event()
        self.closing = threading.Event()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}/"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closing.is_set():
            try:
                conn, _ = self.server.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            self.connected.set()
            head = b"HTTP/1.1 200 OK\r\n"
            if self.where == "body":
                head += b"Content-Length: 1000000\r\n\r\n"
            try:
                conn.sendall(head)
                while not self.closing.wait(0.02):
                    conn.sendall(b"x" if self.where == "body" else b"X-Slow: y\r\n")
            except OSError:
                return  # the probe hung up

    def close(self) -> None:
        self.closing.set()
        self.server.close()


@pytest.fixture
def dripper(request: pytest.FixtureRequest) -> Iterator[Dripper]:
    found = Dripper(request.param)
    yield found
    found.close()


@pytest.mark.parametrize("dripper", ["headers"], indirect=True)
def test_stop_ends_a_drip_fed_request_at_once(dripper: Dripper) -> None:
    probe = Probe(dripper.url, 1, 3600)  # the default 5 s per request, an hour in all
    probe.start()
    assert dripper.connected.wait(5)
    began = time.monotonic()
    figures = probe.stop()
    assert time.monotonic() - began < 1  # not the 5 s request bound, let alone forever
    assert probe._thread is not None and not probe._thread.is_alive()
    assert figures["failed"] == 1 and probe.statuses == {}


@pytest.mark.parametrize("dripper", ["headers"], indirect=True)
def test_a_drip_fed_request_is_cut_at_the_request_bound(dripper: Dripper) -> None:
    probe = Probe(dripper.url, 1, 3600, request_seconds=0.3)
    probe.start()
    assert probe._thread is not None
    assert dripper.connected.wait(5)
    began = time.monotonic()
    while probe.failed == 0 and time.monotonic() - began < 5:
        probe._stop.wait(0.01)  # awaiting the first cut, not a fixed sleep
    assert probe.failed >= 1 and time.monotonic() - began < 1.5
    probe.stop()


@pytest.mark.parametrize("dripper", ["headers", "body"], indirect=True)
def test_a_drip_feeding_target_never_keeps_the_probe_past_max_seconds(
    dripper: Dripper,
) -> None:
    probe = Probe(dripper.url, 20, 1)
    began = time.monotonic()
    probe.start()
    assert probe._thread is not None
    probe._thread.join(timeout=4)  # never stopped: maxSeconds alone must end it
    assert not probe._thread.is_alive()
    assert time.monotonic() - began < 1.5
    if dripper.where == "body":  # the status is all it reads: the body never holds it up
        assert probe.statuses.get(200, 0) >= 10 and probe.failed == 0
    else:
        assert probe.statuses == {} and probe.failed == probe.sent >= 1
    probe.stop()


def test_the_ledger_never_gets_a_url_with_credentials() -> None:
    probe = Probe("http://probe:s3cret@127.0.0.1:9/healthz", 1, 1)
    assert probe.stop()["url"] == "http://127.0.0.1:9/healthz"


def test_an_https_listener_whose_certificate_names_another_domain_is_still_probed(
    tmp_path: Path,
) -> None:
    """An HTTPS listener's certificate names the service's domain (www.example.com), never the
    load balancer's DNS name the probe addresses: the probe's requests still arrive."""
    import datetime
    import http.server
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "www.example.com")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("www.example.com")]), False)
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    seen: list[str] = []

    class Answer(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            seen.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        probe = Probe(f"https://127.0.0.1:{server.server_port}/healthz", 20.0, 2.0)
        probe.start()
        deadline = time.monotonic() + 10
        while probe.statuses.get(200, 0) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)  # until three answers came back to the probe
        stopped = probe.stop()
    finally:
        server.shutdown()
        server.server_close()
    assert len(seen) >= 3 and set(seen) == {"/healthz"}
    # Every answered request counted as a 200; at most the one in flight at stop is cut.
    assert probe.statuses.get(200, 0) >= 3 and stopped["failed"] <= 1
