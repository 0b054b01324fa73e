"""Probe traffic on AWS: paced GET requests to the service's own load balancer during a rollout.

With nobody using an environment, the analysis sees too few requests and stays inconclusive.
`deploy.probeTraffic` asks for a stand-in: one thread in the deploying process sends
`ratePerSecond` requests a second to the stack's `url` output at `path`, from the first
traffic shift until the rollout finalises or ends any other way (rollout.executor), and never
longer than `maxSeconds`. Where it may go is `probe_site`'s business.

Bounded in time, whatever the target does: a request never follows a redirect, reads only the
status line and headers (never the body), and is cut (its socket shut down) once it has run
`request_seconds` (5 s) or reaches the probe's end, whichever comes first; `stop` cuts the one
in flight at once. A target that drip-feeds its answer cannot keep the probe past `maxSeconds`
or past `stop`.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

REQUEST_SECONDS = 5.0
THREAD_NAME = "shipyard-probe"


class Cutter:
    """Shuts down the socket of the request in flight, now or as soon as it has one.

    httpx's timeouts bound each read, not a whole request: an answer drip-fed one byte at a
    time never trips them. httpcore's `trace` extension hands over each connection's stream
    (TCP, then TLS), whose socket another thread can shut down to end a blocked read."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._cut = False
        self._closed = False  # stopped: every request from now on is cut at once

    def arm(self) -> None:
        with self._lock:
            self._cut = self._closed

    def trace(self, event: str, info: dict[str, Any]) -> None:
        if event in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            stream = info.get("return_value")
            found = stream.get_extra_info("socket") if stream is not None else None
            with self._lock:
                self._socket = found
                if self._cut:
                    _shut(found)

    def cut(self) -> None:
        with self._lock:
            self._cut = True
            _shut(self._socket)

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self.cut()


def _shut(sock: socket.socket | None) -> None:
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed: nothing left to end


@dataclass
class Probe:
    """Bounded, paced requests to one URL on a background thread; `stop` joins it."""

    url: str
    rate_per_second: float
    max_seconds: float
    transport: httpx.BaseTransport | None = None  # tests: an in-memory answerer
    request_seconds: float = REQUEST_SECONDS
    sent: int = 0
    failed: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _cutter: Cutter = field(default_factory=Cutter)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)
        self._thread.start()

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        self._cutter.close()
        if self._thread is not None:
            self._thread.join(timeout=self.request_seconds + 1)
        # Never credentials in the ledger (probe_site refuses them; this holds regardless).
        shown = str(httpx.URL(self.url).copy_with(username=None, password=None))
        return {"url": shown, "sent": self.sent, "failed": self.failed}

    def _run(self) -> None:
        interval = 1.0 / self.rate_per_second
        deadline = time.monotonic() + self.max_seconds
        next_at = time.monotonic()
        timeout = httpx.Timeout(self.request_seconds)
        # The probe addresses the load balancer by its own DNS name (the one address tied to
        # the listener shipyard drives, probe_site.py), and an HTTPS listener's certificate
        # names the service's domain, never that name: verifying it would fail every request
        # and the analysis would see none. The probe sends nothing secret and reads no body;
        # TLS still encrypts, only the name is not checked (docs/aws.md, "Quiet environments").
        with httpx.Client(
            timeout=timeout,
            follow_redirects=False,
            transport=self.transport,
            verify=False,
            trust_env=False,  # no HTTP(S)_PROXY/ALL_PROXY: the requests go where checked
        ) as client:
            while not self._stop.is_set() and time.monotonic() < deadline:
                try:
                    status = self._request(client, deadline)
                    self.statuses[status] = self.statuses.get(status, 0) + 1
                except (httpx.HTTPError, OSError):
                    self.failed += 1  # the analysis judges the release; this is only traffic
                self.sent += 1
                next_at += interval
                # Paced, not back to back; wakes at once when stopped.
                self._stop.wait(max(0.0, min(next_at, deadline) - time.monotonic()))

    def _request(self, client: httpx.Client, deadline: float) -> int:
        """One GET's status, cut at `request_seconds` or the probe's deadline."""
        seconds = max(0.0, min(self.request_seconds, deadline - time.monotonic()))
        self._cutter.arm()
        timer = threading.Timer(seconds, self._cutter.cut)
        timer.name, timer.daemon = f"{THREAD_NAME}-deadline", True
        timer.start()
        try:
            extensions = {"trace": self._cutter.trace}
            with client.stream("GET", self.url, extensions=extensions) as response:
                return response.status_code  # the body is never read
        finally:
            timer.cancel()
