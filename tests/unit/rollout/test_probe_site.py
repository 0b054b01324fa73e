"""Where probe traffic may go: only the load balancer behind the production listener shipyard
drives (as ELBv2 describes it), named consistently by the `url` and `albArnSuffix` outputs.
Every refusal is one UsageError naming the output; nothing here sends a request."""

from __future__ import annotations

import pytest

from rollout.platforms.aws.probe_site import LoadBalancer, ProbeSite, probe_url
from shipyard.config.model import ProbeTraffic
from shipyard.errors import UsageError

ALB = "app/web-alb-1a2b3c4/50dc6c495c0c9188"
HOST = "web-alb-1a2b3c4-1234567890.us-east-1.elb.amazonaws.com"
OWN = f"http://{HOST}"
ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/"
DRIVEN = LoadBalancer(ARN + ALB, HOST)
WHERE = "out.json: services.web"


def url(
    value: str,
    *,
    suffix: str = ALB,
    driven: LoadBalancer = DRIVEN,
    emulated: bool = False,
    region: str = "us-east-1",
) -> str:
    return probe_url(ProbeSite(value, suffix, WHERE, region, emulated), driven, "/healthz")


def test_the_driven_load_balancer_is_probed_at_the_policys_path() -> None:
    assert url(OWN) == OWN + "/healthz"
    assert url(f"http://{HOST.upper()}") == f"http://{HOST.lower()}/healthz"  # DNS: any case
    assert url(OWN + ":80/") == OWN + "/healthz"  # the default port, spelled out
    internal = "internal-web-alb-1a2b3c4-99.us-east-1.elb.amazonaws.com"
    found = url(f"https://{internal}", driven=LoadBalancer(ARN + ALB, internal, "HTTPS", 443))
    assert found == f"https://{internal}/healthz"


@pytest.mark.parametrize(
    ("value", "listener"),
    [
        (f"https://{HOST}", ("HTTP", 80)),  # would probe :443, where nothing forwards
        (OWN, ("HTTPS", 443)),  # would probe the HTTP->HTTPS redirect: 301s, no targets
        (OWN, ("HTTP", 8080)),
    ],
)
def test_the_url_must_speak_the_production_listeners_protocol_and_port(
    value: str, listener: tuple[str, int]
) -> None:
    driven = LoadBalancer(ARN + ALB, HOST, *listener)
    with pytest.raises(UsageError, match="but the production listener shipyard drives is"):
        url(value, driven=driven)


def test_probe_traffic_ignores_proxy_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTP_PROXY and friends would send every probe (and its URL) to another host."""
    import httpx

    from rollout.platforms.aws.probe import Probe

    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200)

    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    built: list[dict[str, object]] = []
    real = httpx.Client

    def client(**kwargs: object) -> httpx.Client:
        built.append(kwargs)
        return real(**{**kwargs, "transport": httpx.MockTransport(answer)})  # type: ignore[arg-type]

    monkeypatch.setattr(httpx, "Client", client)
    probe = Probe(OWN + "/healthz", 50.0, 0.2)
    probe.start()
    probe.stop()
    assert built and all(kwargs.get("trust_env") is False for kwargs in built)


def test_an_edited_outputs_file_cannot_point_the_probe_at_another_load_balancer() -> None:
    """The breaker's case: both outputs edited to agree with each other, not with AWS."""
    with pytest.raises(UsageError, match=r"services.web.albArnSuffix is 'app/evil/1', but the "):
        url("http://evil-1.us-east-1.elb.amazonaws.com", suffix="app/evil/1")
    # albArnSuffix left alone: the url still has to be the driven load balancer's DNS name.
    with pytest.raises(UsageError, match=rf"services.web.url is .* not the .*\({HOST}, behind"):
        url("http://web-alb-1a2b3c4-999.us-east-1.elb.amazonaws.com")
    # Against an emulator the url may be loopback, but albArnSuffix must still be the truth.
    assert url("http://127.0.0.1:8080", emulated=True) == "http://127.0.0.1:8080/healthz"
    with pytest.raises(UsageError, match="albArnSuffix is 'app/evil/1'"):
        url("http://127.0.0.1:8080", suffix="app/evil/1", emulated=True)


@pytest.mark.parametrize(
    "elsewhere",
    [
        "http://example.com",  # a host that is no load balancer
        "http://api-alb-9z9z9z9-1234567890.us-east-1.elb.amazonaws.com",  # another ALB
        "http://web-alb-1a2b3c4-1234567890.eu-west-1.elb.amazonaws.com",  # another region
        f"{OWN}.evil.example",
        "http://127.0.0.1:8080",  # loopback, but against real AWS
    ],
)
def test_any_other_host_is_refused_naming_the_output(elsewhere: str) -> None:
    with pytest.raises(UsageError, match=r"out.json: services.web.url is .* not the stack's own"):
        url(elsewhere)


def test_loopback_is_allowed_only_against_an_emulator() -> None:
    with pytest.raises(UsageError):
        url("http://10.0.0.5:8080", emulated=True)


@pytest.mark.parametrize("port", [9000, 22, 443, 8080])
def test_a_port_other_than_the_schemes_default_is_refused(port: int) -> None:
    """:9000 is the test listener (unreleased versions); :22 anything at all."""
    with pytest.raises(UsageError, match=rf"url is .*: port {port} is not the production"):
        url(f"{OWN}:{port}")


def test_credentials_in_the_url_are_refused_and_never_repeated() -> None:
    with pytest.raises(UsageError, match="carries credentials") as refused:
        url(f"http://probe:s3cret@{HOST}")
    assert "s3cret" not in str(refused.value) and "probe:" not in str(refused.value)


def test_china_domains_only_in_china_regions() -> None:
    china = "web-alb-1a2b3c4-1234567890.cn-north-1.elb.amazonaws.com.cn"
    driven = LoadBalancer(ARN.replace(":aws:", ":aws-cn:") + ALB, china)
    assert url(f"http://{china}", driven=driven, region="cn-north-1").startswith(f"http://{china}")
    with pytest.raises(
        UsageError, match="load balancers in us-east-1 are under elb.amazonaws.com;"
    ):
        url(f"{OWN}.cn")
    without = china.removesuffix(".cn")
    with pytest.raises(UsageError, match="cn-north-1 are under elb.amazonaws.com.cn"):
        url(f"http://{without}", driven=driven, region="cn-north-1")


def test_a_trailing_dot_gets_its_own_message() -> None:
    with pytest.raises(UsageError, match=rf"the host ends in a dot; write .* \({HOST}\)"):
        url(f"{OWN}.")


@pytest.mark.parametrize(
    "malformed",
    [
        "http://xn--web-alb-abc1234-123456.us-east-1.elb.amazonaws.com",  # invalid punycode
        "http://web-alb-1a2b3c4-١٢٣٤.us-east-1.elb.amazonaws.com",  # Arabic-Indic digits
        "http://[::1",
    ],
)
def test_a_malformed_url_is_a_usage_error_naming_the_output(malformed: str) -> None:
    with pytest.raises(UsageError, match=r"^out.json: services.web.url is .*: not a valid URL"):
        url(malformed)


@pytest.mark.parametrize("extra", ["/admin/delete", "/?q=1", "/#top"])
def test_a_url_with_its_own_path_query_or_fragment_is_refused(extra: str) -> None:
    with pytest.raises(UsageError, match="the load balancer's address alone"):
        url(OWN + extra)


def test_probe_traffic_takes_no_url() -> None:
    with pytest.raises(ValueError, match="url"):
        ProbeTraffic.model_validate({"ratePerSecond": 1, "url": "http://example.com"})


def test_aws_own_example_dns_names_are_accepted() -> None:
    """The DNSName ELBv2 answers in AWS's API examples (botocore's elbv2 examples-1.json)."""
    for host, name in [
        ("my-load-balancer-424835706.us-west-2.elb.amazonaws.com", "my-load-balancer"),
        (
            "internal-my-internal-load-balancer-1529930873.us-west-2.elb.amazonaws.com",
            "my-internal-load-balancer",
        ),
    ]:
        alb = f"app/{name}/50dc6c495c0c9188"
        driven = LoadBalancer(ARN.replace("us-east-1", "us-west-2") + alb, host)
        site = ProbeSite(f"http://{host}", alb, "out.json", "us-west-2", False)
        assert probe_url(site, driven, "/") == f"http://{host}/"
