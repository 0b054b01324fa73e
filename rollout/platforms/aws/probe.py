"""Probe traffic on AWS: paced GET requests to the service's own load balancer during a rollout.

With nobody using an environment, the analysis sees too few requests and stays inconclusive.
`deploy.probeTraffic` asks for a stand-in: one thread in the deploying process sends
`ratePerSecond` requests a second to the stack's `url` output at `path`, from the first
traffic shift until the rollout finalises or ends any other way (rollout.executor), and never
longer than `maxSeconds`. It never follows a redirect.

Where it goes is never configurable: the host must be the DNS name of the stack's own
load balancer (`<name>-<digits>.<region>.elb.amazonaws.com`, with `internal-` in front for an
internal one: https://docs.aws.amazon.com/elasticloadbalancing/latest/classic/elb-internet-facing-load-balancers.html
and https://docs.aws.amazon.com/elasticloadbalancing/latest/classic/elb-internal-load-balancers.html;
ELBv2 answers the same form: `my-load-balancer-424835706.us-west-2.elb.amazonaws.com` in AWS's
API examples shipped with botocore, `botocore/data/elbv2/2015-12-01/examples-1.json`), named
by the `albArnSuffix` output (`app/<name>/<id>`) and in the stack's region; or, when the AWS
endpoint is an emulator on loopback, a loopback address (the tests' stand-in for the ALB).
Anything else is refused before the rollout starts.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from rollout.load import LOOPBACK
from shipyard.errors import UsageError

ELB_HOST = re.compile(
    r"^(internal-)?(?P<name>[a-z0-9-]+)-\d+\.(?P<region>[a-z0-9-]+)\.elb\.amazonaws\.com(\.cn)?$",
    re.IGNORECASE,
)
REQUEST_TIMEOUT = 5.0
THREAD_NAME = "shipyard-probe"


def probe_url(
    url: str, load_balancer: str, region: str | None, emulated: bool, path: str, where: str
) -> str:
    """The stack's own production URL at `path`, or UsageError naming the output and the fix.
    `load_balancer` is the `albArnSuffix` output; `where` names the output for messages."""
    parsed = httpx.URL(url)
    name = load_balancer.split("/")[1] if load_balancer.count("/") == 2 else ""
    host = parsed.host
    own = ELB_HOST.match(host)
    if emulated and host in LOOPBACK:
        pass
    elif own is None or own["name"].lower() != name.lower() or own["region"] != region:
        expected = f"{name or '<load balancer>'}-<digits>.{region}.elb.amazonaws.com"
        raise UsageError(
            f"{where} is {url!r}, not the stack's own load balancer ({expected}): probe "
            "traffic only ever goes there; pass this stack's own `pulumi stack output --json`"
        )
    if parsed.scheme not in ("http", "https") or parsed.path not in ("", "/") or parsed.query:
        raise UsageError(
            f"{where} is {url!r}: expected the load balancer's address alone "
            "(http(s)://host, as the Pulumi program exports it)"
        )
    return str(parsed.copy_with(path=path))


@dataclass
class Probe:
    """Bounded, paced requests to one URL on a background thread; `stop` joins it."""

    url: str
    rate_per_second: float
    max_seconds: float
    transport: httpx.BaseTransport | None = None  # tests: an in-memory answerer
    sent: int = 0
    failed: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)
        self._thread.start()

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=REQUEST_TIMEOUT + 1)
        return {"url": self.url, "sent": self.sent, "failed": self.failed}

    def _run(self) -> None:
        interval = 1.0 / self.rate_per_second
        deadline = time.monotonic() + self.max_seconds
        next_at = time.monotonic()
        with httpx.Client(
            timeout=REQUEST_TIMEOUT, follow_redirects=False, transport=self.transport
        ) as client:
            while not self._stop.is_set() and time.monotonic() < deadline:
                try:
                    status = client.get(self.url).status_code
                    self.statuses[status] = self.statuses.get(status, 0) + 1
                except httpx.HTTPError:
                    self.failed += 1  # the analysis judges the release; this is only traffic
                self.sent += 1
                next_at += interval
                # Paced, not back to back; wakes at once when stopped.
                self._stop.wait(max(0.0, min(next_at, deadline) - time.monotonic()))
