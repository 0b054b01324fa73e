"""AWS's (and Pulumi's) limits on what the Pulumi program creates: one row per limit, each with
the stack-config key it applies to and the page that states it.

shipyard.config.model consults these rows, so `shipyard stacks render` (and every command that
loads a stack) refuses a value AWS would refuse, exit 2 naming the key, before Pulumi runs.
A row's `name` is what the error message calls the limit.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

TARGET_GROUP = "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateTargetGroup.html"
MATCHER = "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_Matcher.html"
HEALTH_CHECKS = "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html"
TARGET_GROUP_ATTRIBUTES = "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetGroupAttribute.html"
LISTENER = (
    "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateListener.html"
)
LOAD_BALANCER = "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html"
FARGATE_SIZES = (
    "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-cpu-memory-error.html"
)
TASK_FAMILY = (
    "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RegisterTaskDefinition.html"
)
ECS_SERVICE = "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateService.html"
ECS_CLUSTER = "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateCluster.html"
IAM_ROLE = "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html"
SECURITY_GROUP = (
    "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSecurityGroup.html"
)
LOG_GROUP = (
    "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html"
)
RETENTION = "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html"
ALARM = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html"
# Pulumi's autonaming appends "-" and 7 random characters and fails (never truncates) when the
# result would pass the provider's maximum: resource.NewUniqueName in pulumi/pulumi
# (sdk/go/common/resource/resource_id.go) via ComputeAutoNameDefault in
# pulumi/pulumi-terraform-bridge (pkg/tfbridge/info/autonaming.go).
AUTONAME = "https://www.pulumi.com/docs/iac/concepts/resources/names/#autonaming"
AUTONAME_SUFFIX = 8


@dataclass(frozen=True, kw_only=True)
class Range:
    """An inclusive integer range."""

    key: str
    name: str
    low: int
    high: int
    source: str

    def check(self, value: int) -> int:
        if not self.low <= value <= self.high:
            raise ValueError(f"must be {self.low}..{self.high}, the {self.name} (got {value})")
        return value


@dataclass(frozen=True, kw_only=True)
class Choice:
    """One of a fixed set of values."""

    key: str
    name: str
    values: tuple[int, ...]
    source: str

    def check(self, value: int) -> int:
        if value not in self.values:
            valid = ", ".join(str(v) for v in self.values)
            raise ValueError(f"must be one of the {self.name}: {valid} (got {value})")
        return value


@dataclass(frozen=True, kw_only=True)
class NameLimit:
    """A name the program gives a resource, built from config; `pulumi_type` and `field` say
    where the name appears in the program (field None: the logical name, autonamed)."""

    resource: str
    templates: tuple[str, ...]
    max_length: int
    pattern: str
    source: str
    pulumi_type: str
    field: str | None = None
    forbidden_prefix: str | None = None

    @property
    def autonamed(self) -> bool:
        return self.field is None

    @property
    def key(self) -> str:
        return "services[].name" if "{service}" in self.templates[0] else "environment"

    def names(self, env: str, service: str) -> list[str]:
        """Every name this row gives one service (per color, per alarm), suffix excluded."""
        return sorted(
            {
                template.format(env=env, service=service, color=color, alarm=alarm)
                for template in self.templates
                for color in COLORS
                for alarm in ALARM_SUFFIXES
            }
        )

    def problem(self, env: str, service: str) -> str | None:
        """Why AWS or Pulumi would refuse this name, with the fix; None when it fits."""
        suffix = AUTONAME_SUFFIX if self.autonamed else 0
        longest = max(self.names(env, service), key=len)
        if len(longest) + suffix > self.max_length:
            fixed = len(longest) - len(service if self.key == "services[].name" else env)
            plus = f" plus the {suffix} characters Pulumi's autonaming appends" if suffix else ""
            return (
                f"makes the {self.resource} name {longest!r}{plus}: {len(longest) + suffix} "
                f"characters, over AWS's {self.max_length}; use at most "
                f"{self.max_length - suffix - fixed} characters"
            )
        for name in self.names(env, service):
            if self.forbidden_prefix and name.startswith(self.forbidden_prefix):
                return (
                    f"makes the {self.resource} name {name!r}, and AWS refuses names that begin "
                    f"with {self.forbidden_prefix!r}; rename it"
                )
            if not re.fullmatch(self.pattern, name):
                return f"makes the {self.resource} name {name!r}, which AWS refuses; rename it"
        return None


COLORS = ("blue", "green")
ALARM_SUFFIXES = ("5xx", "unhealthy-hosts", "p99-latency")
ELB_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"

HEALTH_CHECK_INTERVAL = Range(
    key="services[].healthCheck.intervalSeconds",
    name="target group health check interval in seconds",
    low=5,
    high=300,
    source=TARGET_GROUP,
)
HEALTH_CHECK_TIMEOUT = Range(
    key="services[].healthCheck.timeoutSeconds",
    name="target group health check timeout in seconds (and below the interval)",
    low=2,
    high=120,
    source=TARGET_GROUP,
)
HEALTHY_THRESHOLD = Range(
    key="services[].healthCheck.healthyThreshold",
    name="target group healthy threshold",
    low=2,
    high=10,
    source=TARGET_GROUP,
)
UNHEALTHY_THRESHOLD = Range(
    key="services[].healthCheck.unhealthyThreshold",
    name="target group unhealthy threshold",
    low=2,
    high=10,
    source=TARGET_GROUP,
)
HEALTH_CHECK_PATH = Range(
    key="services[].healthCheck.path",
    name="health check path's length",
    low=1,
    high=1024,
    source=TARGET_GROUP,
)
MATCHER_CODES = Range(
    key="services[].healthCheck.matcher",
    name="HTTP codes an Application Load Balancer health check may match",
    low=200,
    high=499,
    source=MATCHER,
)
DEREGISTRATION_DELAY = Range(
    key="services[].deregistrationDelaySeconds",
    name="target group deregistration delay in seconds",
    low=0,
    high=3600,
    source=TARGET_GROUP_ATTRIBUTES,
)
PORT = Range(
    key="services[].containerPort, services[].testPort",
    name="port range of listeners and target groups",
    low=1,
    high=65535,
    source=LISTENER,
)
PRODUCTION_PORTS = (80, 443)  # the program's production and redirect listeners
LOG_RETENTION = Choice(
    key="services[].logRetentionDays",
    name="CloudWatch Logs retention periods",
    values=(
        1,
        3,
        5,
        7,
        14,
        30,
        60,
        90,
        120,
        150,
        180,
        365,
        400,
        545,
        731,
        1096,
        1827,
        2192,
        2557,
        2922,
        3288,
        3653,
    ),
    source=RETENTION,
)
# Fargate's task sizes: cpu units -> the memory (MiB) each accepts. 8 and 16 vCPU need
# platform version 1.4.0, the default for new Fargate services.
FARGATE_MEMORY: Mapping[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4097, 1024)),
    1024: tuple(range(2048, 8193, 1024)),
    2048: tuple(range(4096, 16385, 1024)),
    4096: tuple(range(8192, 30721, 1024)),
    8192: tuple(range(16384, 61441, 4096)),
    16384: tuple(range(32768, 122881, 8192)),
}
FARGATE_CPU = Choice(
    key="services[].cpu, services[].memory",
    name="Fargate task cpu sizes",
    values=tuple(FARGATE_MEMORY),
    source=FARGATE_SIZES,
)
# ALB metrics are standard resolution, one data point a minute:
# https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html
ALB_METRIC_PERIOD = 60
ALARM_WINDOW = Range(
    key="alarms.periodSeconds x alarms.evaluationPeriods",
    name="longest alarm evaluation window in seconds (one day)",
    low=ALB_METRIC_PERIOD,
    high=86_400,
    source=ALARM,
)
# Tags: shipyard.config.tag_limits.

NAMES = (
    NameLimit(
        resource="load balancer",
        templates=("{service}-alb",),
        max_length=32,
        pattern=ELB_NAME,
        forbidden_prefix="internal-",
        source=LOAD_BALANCER,
        pulumi_type="aws:lb/loadBalancer:LoadBalancer",
    ),
    NameLimit(
        resource="target group",
        templates=("{service}-{color}-tg",),
        max_length=32,
        pattern=ELB_NAME,
        source=TARGET_GROUP,
        pulumi_type="aws:lb/targetGroup:TargetGroup",
    ),
    NameLimit(
        resource="IAM role",
        templates=("{service}-execution-role",),
        max_length=64,
        pattern=r"[\w+=,.@-]+",
        source=IAM_ROLE,
        pulumi_type="aws:iam/role:Role",
    ),
    NameLimit(
        resource="security group",
        templates=("{service}-alb-sg", "{service}-task-sg"),
        max_length=255,
        # "Constraints: Up to 255 characters in length. Cannot start with sg-." Valid
        # characters: a-z, A-Z, 0-9, spaces, and ._-:/()#,@[]+=&;{}!$*
        pattern=r"[A-Za-z0-9 ._\-:/()#,@\[\]+=&;{}!$*]+",
        forbidden_prefix="sg-",
        source=SECURITY_GROUP,
        pulumi_type="aws:ec2/securityGroup:SecurityGroup",
    ),
    NameLimit(
        resource="log group",
        templates=("/shipyard/{env}/{service}",),
        max_length=512,
        pattern=r"[A-Za-z0-9_\-/.#]+",
        source=LOG_GROUP,
        pulumi_type="aws:cloudwatch/logGroup:LogGroup",
        field="name",
    ),
    NameLimit(
        resource="ECS service",
        templates=("{service}-{color}",),
        max_length=255,
        pattern=r"[A-Za-z0-9_-]+",
        source=ECS_SERVICE,
        pulumi_type="aws:ecs/service:Service",
        field="name",
    ),
    NameLimit(
        resource="task definition family",
        templates=("{env}-{service}-{color}",),
        max_length=255,
        pattern=r"[A-Za-z0-9_-]+",
        source=TASK_FAMILY,
        pulumi_type="aws:ecs/taskDefinition:TaskDefinition",
        field="family",
    ),
    NameLimit(
        resource="ECS cluster",
        templates=("shipyard-{env}",),
        max_length=255,
        pattern=r"[A-Za-z0-9_-]+",
        source=ECS_CLUSTER,
        pulumi_type="aws:ecs/cluster:Cluster",
        field="name",
    ),
    NameLimit(
        resource="CloudWatch alarm",
        templates=("shipyard-{env}-{service}-{color}-{alarm}",),
        max_length=255,
        pattern=r"[\x20-\x7e]+",
        source=ALARM,
        pulumi_type="aws:cloudwatch/metricAlarm:MetricAlarm",
        field="name",
    ),
)


def name_problems(env: str, services: list[str]) -> Iterator[tuple[int | None, str]]:
    """(service index, or None for the environment; problem) for each name AWS would refuse."""
    for row in NAMES:
        if row.key == "environment":
            problem = row.problem(env, services[0] if services else "")
            if problem:
                yield None, problem
            continue
        for index, service in enumerate(services):
            problem = row.problem(env, service)
            if problem:
                yield index, problem


def matcher_problem(matcher: str) -> str | None:
    """Why an ALB would refuse this health check matcher ("200", "200,202", "200-299")."""
    for part in matcher.split(","):
        bounds = part.split("-")
        # str.isdigit() accepts any Unicode digit ("٢٠٠", "²00"); AWS wants ASCII codes.
        if len(bounds) > 2 or not all(re.fullmatch("[0-9]+", b) for b in bounds):
            return f"must be HTTP codes such as '200', '200,202' or '200-299' (got {matcher!r})"
        low, high = int(bounds[0]), int(bounds[-1])
        if low > high or not (MATCHER_CODES.low <= low and high <= MATCHER_CODES.high):
            return (
                f"must be codes {MATCHER_CODES.low}..{MATCHER_CODES.high}, the "
                f"{MATCHER_CODES.name} (got {matcher!r})"
            )
    return None
