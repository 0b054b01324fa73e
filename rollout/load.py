"""A bounded load generator for loopback: threads send requests back to back until stopped,
a request budget or a time limit, and record every answer with its time. Used by the demo,
the benchmarks and the end-to-end tests; it refuses any host but 127.0.0.1 and localhost."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import httpx

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def require_loopback(url: str) -> None:
    """Generated requests only ever go to this machine."""
    host = httpx.URL(url).host
    if host not in LOOPBACK:
        raise ValueError(f"load is only ever sent to loopback, not {host}")


@dataclass(frozen=True)
class Sample:
    at: float  # time.monotonic() when the answer came
    status: int | None  # None: the request failed (connection refused, reset, timeout)
    version: str | None
    color: str | None


@dataclass
class Load:
    url: str
    threads: int = 2
    max_requests: int = 50_000
    max_seconds: float = 120.0
    samples: list[Sample] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _workers: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    started: float = 0.0
    stopped: float = 0.0

    def __enter__(self) -> Load:
        require_loopback(self.url)
        self.started = time.monotonic()
        for _ in range(self.threads):
            worker = threading.Thread(target=self._run, daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=10)
        self.stopped = time.monotonic()

    def _run(self) -> None:
        deadline = self.started + self.max_seconds
        with httpx.Client(timeout=5.0) as client:
            while not self._stop.is_set() and time.monotonic() < deadline:
                with self._lock:
                    if len(self.samples) >= self.max_requests:
                        return
                try:
                    response = client.get(self.url)
                    sample = Sample(
                        time.monotonic(),
                        response.status_code,
                        response.headers.get("X-App-Version"),
                        response.headers.get("X-App-Color"),
                    )
                except httpx.HTTPError:
                    sample = Sample(time.monotonic(), None, None, None)
                with self._lock:
                    self.samples.append(sample)

    def wait_for(self, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.samples) < count and time.monotonic() < deadline:
            time.sleep(0.01)

    def between(self, start: float, end: float) -> list[Sample]:
        with self._lock:
            return [s for s in self.samples if start <= s.at < end]

    @property
    def failed(self) -> list[Sample]:
        return [s for s in self.samples if s.status is None or s.status >= 500]

    @property
    def rate(self) -> float:
        return len(self.samples) / max(self.stopped - self.started, 1e-9)
