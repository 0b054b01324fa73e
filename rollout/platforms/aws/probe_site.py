"""Where probe traffic may go: the load balancer shipyard drives, and nothing else.

The stack's outputs file is only a hint, and anyone can edit it: the probe's address is taken
from it only when it names the load balancer behind the production listener, the listener
whose weights shipyard sets. ELBv2 says which one that is: DescribeListeners gives the
listener's `LoadBalancerArn`
(https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DescribeListeners.html),
DescribeLoadBalancers that load balancer's `DNSName`
(https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DescribeLoadBalancers.html;
both fields in botocore's elbv2 service model). The `url` output's host must be that DNS name,
and the `albArnSuffix` output that ARN's suffix `app/<name>/<id>` (Pulumi's `arnSuffix`, "for
use with CloudWatch Metrics": the `LoadBalancer` dimension the analysis reads,
https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html).
The DNS name also has ELB's own shape,
`<name>-<digits>.<region>.elb.amazonaws.com` (`internal-` in front for an internal one:
https://docs.aws.amazon.com/elasticloadbalancing/latest/classic/elb-internet-facing-load-balancers.html;
ELBv2's API examples in botocore, `botocore/data/elbv2/2015-12-01/examples-1.json`, answer
`my-load-balancer-424835706.us-west-2.elb.amazonaws.com`), under `amazonaws.com.cn` in the
China regions only (https://docs.amazonaws.cn/en_us/general/latest/gr/endpoints-Beijing.html),
on the scheme's default port (the program's production listeners are 80 and 443), with no
credentials, path, query or fragment. With the AWS endpoint an emulator on loopback (tests),
the url may be a loopback address instead, the ALB's stand-in; albArnSuffix must still match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx

from rollout.load import LOOPBACK
from shipyard.errors import UsageError

ELB_HOST = re.compile(
    r"^(internal-)?(?P<name>[a-z0-9-]+)-\d+\.(?P<region>[a-z0-9-]+)\.elb\.amazonaws\.com"
    r"(?P<china>\.cn)?$",
    re.IGNORECASE,
)
FIX = "pass this stack's own `pulumi stack output --json`"


@dataclass(frozen=True)
class LoadBalancer:
    """The load balancer behind the production listener, as ELBv2 describes it."""

    arn: str
    dns_name: str
    protocol: str = "HTTP"  # the production listener's, which the probe's URL must speak
    port: int = 80

    @property
    def arn_suffix(self) -> str:
        return self.arn.split(":loadbalancer/", 1)[-1]


def driven_load_balancer(elbv2: Any, production_listener: str) -> LoadBalancer:
    """The load balancer of the listener shipyard sets weights on, read from ELBv2."""
    listener = elbv2.describe_listeners(ListenerArns=[production_listener])["Listeners"][0]
    arn = str(listener["LoadBalancerArn"])
    found = elbv2.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"][0]
    protocol, port = str(listener.get("Protocol", "HTTP")), int(listener.get("Port", 80))
    return LoadBalancer(arn, str(found["DNSName"]), protocol, port)


@dataclass(frozen=True)
class ProbeSite:
    """What the stack's outputs claim, and how to name them in messages."""

    url: str  # the `url` output
    arn_suffix: str  # the `albArnSuffix` output
    where: str  # "<outputs file>: services.<name>"
    region: str | None
    emulated: bool  # the AWS endpoint is an emulator on loopback


def require_driven_suffix(arn_suffix: str, driven: LoadBalancer, where: str) -> None:
    """UsageError unless the `albArnSuffix` output names the driven load balancer: the
    analysis reads that load balancer's own 5xx (HTTPCode_ELB_5XX_Count) under it."""
    if arn_suffix != driven.arn_suffix:
        raise UsageError(
            f"{where}.albArnSuffix is {arn_suffix!r}, but the production listener shipyard "
            f"drives belongs to load balancer {driven.arn_suffix!r}: {FIX}"
        )


def probe_url(site: ProbeSite, driven: LoadBalancer, path: str) -> str:
    """The driven load balancer's URL at `path`, or UsageError naming the output and the fix."""
    require_driven_suffix(site.arn_suffix, driven, site.where)
    where = f"{site.where}.url"
    try:
        parsed = httpx.URL(site.url)
        host = parsed.host  # IDNA decoding happens here, and can fail (an invalid xn-- label)
    except (httpx.InvalidURL, ValueError) as exc:
        raise UsageError(f"{where} is {site.url!r}: not a valid URL ({exc}); {FIX}") from None
    if parsed.userinfo:
        shown = str(parsed.copy_with(username=None, password=None))
        raise UsageError(
            f"{where} ({shown}) carries credentials (user:pass@): the load balancer's address "
            f"takes none, and probe traffic sends none; {FIX}"
        )
    if parsed.scheme not in ("http", "https") or parsed.path not in ("", "/"):
        raise _not_alone(where, site.url)
    if parsed.query or parsed.fragment:
        raise _not_alone(where, site.url)
    if site.emulated and host in LOOPBACK:
        return _at(parsed, path, where)
    if host.endswith("."):
        raise UsageError(
            f"{where} is {site.url!r}: the host ends in a dot; write the load balancer's DNS "
            f"name without it ({driven.dns_name})"
        )
    _require_elb_shape(where, site, host)
    if host.lower() != driven.dns_name.lower():
        raise UsageError(
            f"{where} is {site.url!r}, not the stack's own load balancer "
            f"({driven.dns_name}, behind the production listener shipyard drives): probe "
            f"traffic only ever goes there; {FIX}"
        )
    if parsed.port is not None:
        raise UsageError(
            f"{where} is {site.url!r}: port {parsed.port} is not the production listener's "
            f"({parsed.scheme}'s default); drop the port (another port is another listener)"
        )
    speaks = {"http": ("HTTP", 80), "https": ("HTTPS", 443)}[parsed.scheme]
    if speaks != (driven.protocol.upper(), driven.port):
        # http:// on a TLS stack reaches the HTTP->HTTPS redirect listener: 301s that never
        # reach a target group, so the analysis would see nothing.
        raise UsageError(
            f"{where} is {site.url!r}, but the production listener shipyard drives is "
            f"{driven.protocol} on port {driven.port}: probe traffic goes to that listener "
            f"only; {FIX}"
        )
    return _at(parsed, path, where)


def _at(parsed: httpx.URL, path: str, where: str) -> str:
    try:
        return str(parsed.copy_with(path=path))
    except (httpx.InvalidURL, ValueError) as exc:
        raise UsageError(
            f"{where}: probe path {path!r} does not make a URL ({exc}): fix "
            "deploy.probeTraffic.path"
        ) from None


def _require_elb_shape(where: str, site: ProbeSite, host: str) -> None:
    own = ELB_HOST.match(host)
    region = site.region or ""
    if own is None or own["region"] != region:
        raise UsageError(
            f"{where} is {site.url!r}, not the stack's own load balancer "
            f"(<name>-<digits>.{region}.elb.amazonaws.com): probe traffic only ever goes "
            f"there; {FIX}"
        )
    if bool(own["china"]) != region.startswith("cn-"):
        domain = "elb.amazonaws.com.cn" if region.startswith("cn-") else "elb.amazonaws.com"
        raise UsageError(
            f"{where} is {site.url!r}: load balancers in {region} are under {domain}; {FIX}"
        )


def _not_alone(where: str, url: str) -> UsageError:
    return UsageError(
        f"{where} is {url!r}: expected the load balancer's address alone "
        "(http(s)://host, as the Pulumi program exports it)"
    )
