"""Typed stack configuration: what `stacks/<env>.yaml` over `stacks/template.yaml.j2` must say.

Keys are camelCase in YAML (`healthCheck.intervalSeconds`) and snake_case in Python. Every model
forbids unknown keys, so a typo fails loudly instead of being ignored.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from shipyard.config import aws_limits as limits
from shipyard.config.access import access_cidr, access_problem
from shipyard.config.plain_secrets import plain_secret, plain_secrets_in
from shipyard.config.secret_refs import SecretRef, SecretRefError, parse_secret_ref, partition_of
from shipyard.config.tag_limits import tags_problem

NAME = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
ENV_NAME = re.compile(r"^[a-z][a-z0-9-]{1,15}$")
VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
ENV_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
PULUMI_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*:[A-Za-z][A-Za-z0-9_.-]*$")

PROD_ENVIRONMENTS = frozenset({"prod", "production"})
PROD_MIN_APPROVALS = 2
# Probe traffic's bounds: a stand-in for a few users, never a load test.
PROBE_MAX_RATE = 20
PROBE_MAX_SECONDS = 7200
# A validation error about one key of a mapping; its context names the key, so the message's
# config path ends in it (services[0].environment.DB_PASSWORD).
AT_KEY = "at_key"
# The same for any path below the model: its context's `loc` is appended to the error's.
AT_PATH = "at_path"
# Where a plain secret must go instead, by the top-level key it was found under.
SECRET_FIXES = {
    "tags": "tags are not for secrets (AWS shows them to anyone who can list resources); remove it",
    "pulumiConfig": "store it encrypted with `pulumi config set --secret KEY VALUE` and copy "
    "the `secure:` value here",
    "deploy": "a webhook URL is a credential: write `webhookUrl: ${SHIPYARD_WEBHOOK_URL}` and "
    "set that variable where shipyard deploys (in CI, from a repository secret)",
}
OTHER_SECRET_FIX = "keep secrets out of stack config (a service's `secrets:` takes ARN references)"
# A webhook URL's path is the credential on these hosts: Slack ("As with tokens, we don't
# recommend embedding a webhook URL in your source code",
# https://docs.slack.dev/tools/java-slack-sdk/guides/incoming-webhooks), Discord, Teams.
WEBHOOK_HOSTS = re.compile(
    r"^https?://([^/]*\.)?(hooks\.slack\.com|discord(app)?\.com|webhook\.office\.com)(/|$)",
    re.IGNORECASE,
)
WEBHOOK_VARIABLE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


def url_path(value: str) -> str:
    """An absolute URL path, as health checks and smoke checks request."""
    if not value.startswith("/"):
        raise ValueError(f"must start with '/' (got {value!r})")
    return value


def health_check_path(value: str) -> str:
    """A target group's health check path: absolute, and no longer than ELBv2 accepts."""
    limits.HEALTH_CHECK_PATH.check(len(value))
    return url_path(value)


def within(limit: limits.Range) -> AfterValidator:
    """A field validator enforcing one row of shipyard.config.aws_limits."""
    return AfterValidator(limit.check)


def _sizes(values: tuple[int, ...]) -> str:
    """Allowed sizes in words: a short list, or a range with its step."""
    if len(values) <= 3:
        return ", ".join(str(v) for v in values[:-1]) + f" or {values[-1]}"
    return f"{values[0]} to {values[-1]} in steps of {values[1] - values[0]}"


# A path alone (RFC 3986 section 3.3: unreserved, sub-delims, ":" "@" "/" and %XX), no query
# or fragment: the probe requests exactly this path on the load balancer.
PATH_ONLY = re.compile(r"^/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*\Z")


def path_only(value: str) -> str:
    url_path(value)
    if not PATH_ONLY.match(value):
        raise ValueError(
            "must be a URL path alone: letters, digits and - . _ ~ / (others %-encoded), "
            f"no query (?) or fragment (#) (got {value!r})"
        )
    return value


AbsolutePath = Annotated[str, AfterValidator(url_path)]
Port = Annotated[int, within(limits.PORT)]


class Color(StrEnum):
    BLUE = "blue"
    GREEN = "green"

    @property
    def other(self) -> Color:
        return Color.GREEN if self is Color.BLUE else Color.BLUE


class Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        strict=True,
        alias_generator=to_camel,
        populate_by_name=True,
    )


PositiveInt = Annotated[int, Field(gt=0)]


class HealthCheck(Model):
    path: Annotated[str, AfterValidator(health_check_path)] = "/healthz"
    matcher: str = "200"
    interval_seconds: Annotated[int, within(limits.HEALTH_CHECK_INTERVAL)] = 10
    timeout_seconds: Annotated[int, within(limits.HEALTH_CHECK_TIMEOUT)] = 5
    healthy_threshold: Annotated[int, within(limits.HEALTHY_THRESHOLD)] = 3
    unhealthy_threshold: Annotated[int, within(limits.UNHEALTHY_THRESHOLD)] = 3

    @field_validator("matcher")
    @classmethod
    def _matcher(cls, value: str) -> str:
        problem = limits.matcher_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _timeout_below_interval(self) -> HealthCheck:
        # ELBv2 refuses a timeout that is not below the interval (limits.HEALTH_CHECKS).
        if self.timeout_seconds >= self.interval_seconds:
            raise ValueError(
                f"timeoutSeconds ({self.timeout_seconds}) must be less than intervalSeconds "
                f"({self.interval_seconds})"
            )
        return self


class Versions(Model):
    blue: str | None = None
    green: str | None = None

    @field_validator("blue", "green")
    @classmethod
    def _version(cls, value: str | None) -> str | None:
        if value is not None and not VERSION.match(value):
            raise ValueError(
                f"must be an image tag: letters, digits, '.', '_' or '-' (got {value!r})"
            )
        return value

    def of(self, color: Color) -> str | None:
        return self.blue if color is Color.BLUE else self.green


K = TypeVar("K")
ELB_MAX_WEIGHT = 999  # ELBv2 forward weights run 0..999


def elb_weight(percent: int) -> int:
    """A percentage of traffic on ELBv2's weight scale: the Pulumi program and the rollout's
    router write the same numbers, so `pulumi preview` and `drift` see no difference."""
    return round(percent * ELB_MAX_WEIGHT / 100)


def traffic_shares(raw: Mapping[K, int]) -> dict[K, int]:
    """Raw forward weights (any scale) as whole percentages summing to 100 (all 0 if none)."""
    total = sum(raw.values())
    if not total:
        return {key: 0 for key in raw}
    shares = {key: round(100 * weight / total) for key, weight in raw.items()}
    largest = max(shares, key=lambda key: shares[key])
    shares[largest] += 100 - sum(shares.values())
    return shares


class Weights(Model):
    blue: Annotated[int, Field(ge=0, le=100)]
    green: Annotated[int, Field(ge=0, le=100)]

    @model_validator(mode="after")
    def _sum(self) -> Weights:
        if self.blue + self.green != 100:
            raise ValueError(
                f"blue + green must sum to 100 (got {self.blue} + {self.green} = "
                f"{self.blue + self.green})"
            )
        return self

    def of(self, color: Color) -> int:
        return self.blue if color is Color.BLUE else self.green


class LocalRun(Model):
    """How the local platform runs a service (ignored on AWS).

    `command` is an argv list; `{python}`, `{project}`, `{port}`, `{version}` and `{color}` are
    filled in, and the process also gets PORT, APP_VERSION and APP_COLOR in its environment
    with the service's `environment`. Default: the sample service in examples/app.
    Loopback processes answer in milliseconds, so health checks run every `checkIntervalMs`
    locally instead of the ALB's interval; path, matcher and thresholds come from
    `healthCheck`.
    """

    command: list[str] = ["{python}", "{project}/examples/app/server.py"]
    check_interval_ms: Annotated[int, Field(ge=50, le=60_000)] = 300

    @field_validator("command")
    @classmethod
    def _command(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError('needs at least the program to run, e.g. ["{python}", "app.py"]')
        return value


class Service(Model):
    name: str
    image: str
    container_port: Port
    cpu: int = 256
    memory: int = 512
    desired_count: PositiveInt = 2
    idle_desired_count: Annotated[int, Field(ge=0)] = 0
    test_port: Port = 9000
    deregistration_delay_seconds: Annotated[int, within(limits.DEREGISTRATION_DELAY)] = 30
    log_retention_days: Annotated[int, AfterValidator(limits.LOG_RETENTION.check)] = 30
    health_check: HealthCheck = HealthCheck()
    environment: dict[str, str] = {}
    secrets: dict[str, str] = {}
    active_color: Annotated[Color, Field(strict=False)] = Color.BLUE
    versions: Versions
    weights: Weights | None = None
    local: LocalRun | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME.match(value):
            raise ValueError(
                "must be lowercase letters, digits or '-', starting with a letter, and short "
                "enough for the AWS names made from it (15 characters at most: docs/aws.md, "
                f"Limits) (got {value!r})"
            )
        return value

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        last = value.rsplit("/", 1)[-1]
        if not value or ":" in last or "@" in value or " " in value:
            raise ValueError(
                "must be an image repository without a tag, e.g. "
                f"'123456789012.dkr.ecr.us-east-1.amazonaws.com/web' (got {value!r}); "
                "the tag comes from versions"
            )
        return value

    @field_validator("cpu")
    @classmethod
    def _cpu(cls, value: int) -> int:
        return limits.FARGATE_CPU.check(value)

    @field_validator("environment", "secrets")
    @classmethod
    def _variable_names(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not ENV_VAR.match(key):
                raise ValueError(
                    f"{key!r} is not a valid variable name: letters, digits and '_', "
                    "not starting with a digit"
                )
        return value

    @field_validator("environment")
    @classmethod
    def _no_plain_secrets(cls, value: dict[str, str]) -> dict[str, str]:
        for key, text in value.items():
            kind = plain_secret(key, text)
            if kind is not None:
                raise PydanticCustomError(
                    AT_KEY,
                    "looks like a secret ({kind}) and environment values are published in "
                    "Pulumi.<env>.yaml and every report; move it to `secrets:` as an ARN "
                    "reference (arn:aws:secretsmanager:... or arn:aws:ssm:...)",
                    {"key": key, "kind": kind},
                )
        return value

    @field_validator("secrets")
    @classmethod
    def _secret_references(cls, value: dict[str, str]) -> dict[str, str]:
        for key, ref in value.items():
            try:
                parse_secret_ref(ref)
            except SecretRefError as exc:
                raise PydanticCustomError(
                    AT_KEY, "{problem}", {"key": key, "problem": str(exc)}
                ) from None
        return value

    def secret_refs(self) -> list[SecretRef]:
        """The parsed `secrets:` references, in variable-name order."""
        return [parse_secret_ref(ref) for _, ref in sorted(self.secrets.items())]

    @model_validator(mode="after")
    def _consistent(self) -> Service:
        allowed = limits.FARGATE_MEMORY[self.cpu]
        if self.memory not in allowed:
            raise ValueError(
                f"memory {self.memory} does not fit cpu {self.cpu} on Fargate: use "
                f"{_sizes(allowed)} MiB"
            )
        if self.versions.of(self.active_color) is None:
            raise ValueError(f"versions.{self.active_color}: the active color needs a version")
        clash = sorted(set(self.environment) & set(self.secrets))
        if clash:
            raise ValueError(f"{', '.join(clash)}: set in both environment and secrets")
        if self.test_port in limits.PRODUCTION_PORTS:
            raise ValueError(f"testPort {self.test_port} is taken by the production listener")
        if self.weights is not None:
            idle = self.active_color.other
            if self.weights.of(idle) > 0 and self.versions.of(idle) is None:
                raise ValueError(f"weights.{idle} is above 0 but versions.{idle} is not set")
        return self

    @property
    def idle_color(self) -> Color:
        return self.active_color.other

    def version_of(self, color: Color) -> str:
        """The version a color runs; an idle color without one runs the active version."""
        return self.versions.of(color) or self.versions.of(self.active_color) or ""

    def weight_of(self, color: Color) -> int:
        """Production traffic share of a color: explicit weights, else active 100 / idle 0."""
        if self.weights is not None:
            return self.weights.of(color)
        return 100 if color is self.active_color else 0


class Network(Model):
    cidr: str | None = None
    az_count: Annotated[int, Field(ge=1, le=6)] = 2
    nat_gateways: Annotated[int, Field(ge=0)] = 1
    availability_zones: list[str] | None = None
    vpc_id: str | None = None
    public_subnet_ids: list[str] = []
    private_subnet_ids: list[str] = []
    # Who may reach the test listener besides the VPC itself (shipyard.config.access).
    test_access_cidrs: list[Annotated[str, AfterValidator(access_cidr)]] = []
    test_access_public: bool = False

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            net = ipaddress.IPv4Network(value, strict=True)
        except ValueError as exc:
            raise ValueError(
                f"must be an IPv4 CIDR such as 10.0.0.0/16 (got {value!r}: {exc})"
            ) from None
        if not 16 <= net.prefixlen <= 24:
            raise ValueError(f"prefix must be /16 to /24 (got /{net.prefixlen})")
        return value

    @model_validator(mode="after")
    def _one_mode(self) -> Network:
        if self.vpc_id is None and self.cidr is None:
            raise ValueError("set cidr (shipyard creates the VPC) or vpcId (adopt an existing one)")
        problem = access_problem(
            self.test_access_cidrs, self.test_access_public, self.cidr, self.adopted
        )
        if problem is not None:
            loc, text = problem
            raise PydanticCustomError(AT_PATH, "{problem}", {"loc": loc, "problem": text})
        if self.vpc_id is not None:
            if self.cidr is not None:
                raise ValueError("set either cidr or vpcId, not both")
            if not self.public_subnet_ids or not self.private_subnet_ids:
                raise ValueError("vpcId needs publicSubnetIds and privateSubnetIds")
            return self
        if self.nat_gateways > self.az_count:
            raise ValueError(
                f"natGateways ({self.nat_gateways}) cannot exceed azCount ({self.az_count})"
            )
        if self.availability_zones is not None and len(self.availability_zones) != self.az_count:
            raise ValueError(
                f"availabilityZones lists {len(self.availability_zones)} zones but azCount is "
                f"{self.az_count}"
            )
        return self

    @property
    def adopted(self) -> bool:
        return self.vpc_id is not None


class Analysis(Model):
    max_5xx_rate: Annotated[float, Field(ge=0, le=1, alias="max5xxRate")] = 0.01
    max_p99_latency_ms: Annotated[int, Field(gt=0, alias="maxP99LatencyMs")] = 1000
    min_requests: Annotated[int, Field(ge=0)] = 50
    on_inconclusive: Literal["pause", "fail"] = "pause"


class Approvals(Model):
    required: Annotated[int, Field(ge=0, le=10)] = 0
    max_age_hours: Annotated[float, Field(gt=0)] = 24


class ProbeTraffic(Model):
    """Paced GET requests to the service's own production URL while a rollout shifts traffic
    (AWS platform only): a stand-in for users in a quiet environment, never a load test. Only
    the path is configurable; the host is always the stack's own load balancer
    (rollout/platforms/aws/probe_site.py)."""

    rate_per_second: Annotated[float, Field(gt=0, le=PROBE_MAX_RATE)]
    max_seconds: Annotated[int, Field(ge=1, le=PROBE_MAX_SECONDS)] = 3600
    path: Annotated[str, AfterValidator(path_only)] = "/"


class Deploy(Model):
    strategy: Literal["blue-green"] = "blue-green"
    webhook_url: str | None = None
    traffic_steps: list[int] = [10, 50, 100]
    bake_seconds: Annotated[int, Field(ge=0)] = 60
    # None: the platform's default (rollout/readiness.py): 60 s locally, a Fargate cold start
    # plus the target group's health checks on AWS.
    ready_timeout_seconds: Annotated[int, Field(ge=1, le=3600)] | None = None
    analysis: Analysis = Analysis()
    scale_down_delay_seconds: Annotated[int, Field(ge=0)] = 300
    approvals: Approvals = Approvals()
    probe_traffic: ProbeTraffic | None = None

    @field_validator("webhook_url")
    @classmethod
    def _webhook(cls, value: str | None) -> str | None:
        if value is None or WEBHOOK_VARIABLE.match(value):
            return value
        # The value is never quoted back: a mistyped webhook URL is still a credential.
        if not value.startswith(("https://", "http://")):
            raise ValueError(
                "must be an http(s) URL or ${VARIABLE}, the environment variable holding it"
            )
        if WEBHOOK_HOSTS.match(value):
            raise ValueError(
                f"looks like a secret (a {value.split('/')[2]} webhook) and is published in "
                f"Pulumi.<env>.yaml; {SECRET_FIXES['deploy']}"
            )
        return value

    @field_validator("traffic_steps")
    @classmethod
    def _steps(cls, steps: list[int]) -> list[int]:
        if not steps:
            raise ValueError("needs at least one step, ending at 100, e.g. [10, 50, 100]")
        if any(not 1 <= s <= 100 for s in steps):
            raise ValueError(f"each step must be 1..100 percent (got {steps})")
        if any(b <= a for a, b in zip(steps, steps[1:], strict=False)):
            raise ValueError(f"steps must increase (got {steps})")
        if steps[-1] != 100:
            raise ValueError(f"the last step must be 100 (got {steps})")
        return steps


class Alarms(Model):
    http_5xx_count: Annotated[int, Field(gt=0, alias="http5xxCount")] = 10
    unhealthy_hosts: Annotated[int, Field(gt=0)] = 1
    p99_latency_seconds: Annotated[float, Field(gt=0, alias="p99LatencySeconds")] = 1.0
    period_seconds: Annotated[int, Field(gt=0)] = 60
    evaluation_periods: Annotated[int, Field(ge=1, le=100)] = 3

    @field_validator("period_seconds")
    @classmethod
    def _period(cls, value: int) -> int:
        # The alarms watch ALB metrics, published per minute: PutMetricAlarm takes 10, 20 or 30
        # only for high-resolution metrics; on others such an alarm "might often lapse into
        # INSUFFICIENT_DATA" (limits.ALARM, Period).
        if value % limits.ALB_METRIC_PERIOD:
            raise ValueError(
                f"must be a multiple of {limits.ALB_METRIC_PERIOD}: the alarms watch ALB "
                f"metrics, published once a minute (got {value})"
            )
        return value

    @model_validator(mode="after")
    def _window(self) -> Alarms:
        window = self.period_seconds * self.evaluation_periods
        if window > limits.ALARM_WINDOW.high:
            raise ValueError(
                f"periodSeconds x evaluationPeriods is {window} seconds, over the "
                f"{limits.ALARM_WINDOW.name}: lower either"
            )
        return self


class Tls(Model):
    certificate_arn: str
    ssl_policy: str = "ELBSecurityPolicy-TLS13-1-2-2021-06"

    @field_validator("certificate_arn")
    @classmethod
    def _arn(cls, value: str) -> str:
        if not value.startswith("arn:aws:acm:"):
            raise ValueError(f"must be an ACM certificate ARN, arn:aws:acm:... (got {value!r})")
        return value


class StackConfig(Model):
    environment: str
    region: str
    network: Network
    services: list[Service]
    deploy: Deploy = Deploy()
    alarms: Alarms = Alarms()
    tls: Tls | None = None
    tags: dict[str, str] = {}
    ledger: str | None = None
    pulumi_config: dict[str, object] = {}

    @field_validator("environment")
    @classmethod
    def _environment(cls, value: str) -> str:
        if not ENV_NAME.match(value):
            raise ValueError(
                f"must be 2-16 lowercase letters, digits or '-', starting with a letter "
                f"(got {value!r})"
            )
        return value

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if not REGION.match(value):
            raise ValueError(f"must be an AWS region such as 'eu-west-1' (got {value!r})")
        return value

    @field_validator("services")
    @classmethod
    def _services(cls, services: list[Service]) -> list[Service]:
        if not services:
            raise ValueError("needs at least one service")
        seen: set[str] = set()
        for service in services:
            if service.name in seen:
                raise ValueError(f"service name {service.name!r} appears twice")
            seen.add(service.name)
        return services

    @model_validator(mode="after")
    def _tags(self) -> StackConfig:
        problem = tags_problem(self.tags, self.environment)
        if problem:
            raise PydanticCustomError(AT_PATH, "{problem}", {"loc": ("tags",), "problem": problem})
        return self

    @model_validator(mode="after")
    def _names_fit(self) -> StackConfig:
        """Every name the program derives from config is one AWS and Pulumi accept."""
        names = [service.name for service in self.services]
        for index, problem in limits.name_problems(self.environment, names):
            loc = ("environment",) if index is None else ("services", index, "name")
            value = self.environment if index is None else names[index]
            raise PydanticCustomError(
                AT_PATH, "{problem}", {"loc": loc, "problem": f"{value!r} {problem}"}
            )
        return self

    @field_validator("ledger")
    @classmethod
    def _ledger(cls, value: str | None) -> str | None:
        if value is not None and value.startswith("s3://") and len(value.rstrip("/")) <= 5:
            raise ValueError("an S3 ledger is s3://bucket/prefix")
        return value

    @field_validator("pulumi_config")
    @classmethod
    def _pulumi_config(cls, value: dict[str, object]) -> dict[str, object]:
        for key in value:
            if not PULUMI_KEY.match(key):
                raise ValueError(f"{key!r}: keys are namespaced, e.g. 'aws:profile'")
            if key.startswith("shipyard:"):
                raise ValueError(f"{key!r}: shipyard:* keys are generated from this file")
        return value

    @model_validator(mode="after")
    def _no_plain_secrets(self) -> StackConfig:
        """Everything here is published in Pulumi.<env>.yaml, not only services' environment."""
        doc = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        for loc, kind in plain_secrets_in(doc):
            fix = SECRET_FIXES.get(str(loc[0]), OTHER_SECRET_FIX)
            raise PydanticCustomError(
                AT_PATH,
                "looks like a secret ({kind}) and is published in Pulumi.<env>.yaml; {fix}",
                {"loc": loc, "kind": kind, "fix": fix},
            )
        return self

    @model_validator(mode="after")
    def _secrets_in_partition(self) -> StackConfig:
        """IAM grants only resources of its own partition: a role in us-gov-west-1 cannot read
        an arn:aws: secret (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html)."""
        partition = partition_of(self.region)
        for index, service in enumerate(self.services):
            for key, ref in sorted(service.secrets.items()):
                found = parse_secret_ref(ref).partition
                if found != partition:
                    raise PydanticCustomError(
                        AT_PATH,
                        "is in partition {found} but region {region} is in {partition}: "
                        "reference a secret of the stack's partition (arn:{partition}:...)",
                        {
                            "loc": ("services", index, "secrets", key),
                            "found": found,
                            "region": self.region,
                            "partition": partition,
                        },
                    )
        return self

    @model_validator(mode="after")
    def _prod_gate(self) -> StackConfig:
        required = self.deploy.approvals.required
        if self.environment in PROD_ENVIRONMENTS and required < PROD_MIN_APPROVALS:
            raise ValueError(
                f"deploy.approvals.required is {required}; {self.environment} needs at least "
                f"{PROD_MIN_APPROVALS} distinct reviewers"
            )
        return self

    def service(self, name: str) -> Service:
        for service in self.services:
            if service.name == name:
                return service
        raise KeyError(name)
