"""AWS's limits (shipyard.config.aws_limits) checked by `shipyard stacks render` before Pulumi
runs: each at its edge, the last valid value renders and the first invalid one exits 2 naming
the key and the limit, and the name table matches what the program really creates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from parity.render import RenderedStack
from shipyard.config import aws_limits
from shipyard.config.load import StackSources
from tests.conftest import CliResult, snapshot
from tests.unit.test_config_validation import edit_yaml, service

WEB = "stacks/dev.yaml: services[0]"


def web(**fields: Any) -> Callable[[dict[str, Any]], None]:
    return lambda doc: service(doc, "web").update(fields)


def check(**fields: Any) -> Callable[[dict[str, Any]], None]:
    return lambda doc: service(doc, "web").setdefault("healthCheck", {}).update(fields)


def tags(count: int = 1, key: str = "team", value: str = "x") -> Callable[[dict[str, Any]], None]:
    extra = {f"t{i}": "x" for i in range(count - 1)}
    return lambda doc: doc.update(tags={key: value, **extra})


# (limit, last valid edit, first invalid edit, start of the error after "shipyard: ")
EDGES: list[tuple[str, Callable[..., None], Callable[..., None], str]] = [
    (
        "interval high",
        check(intervalSeconds=300),
        check(intervalSeconds=301),
        f"{WEB}.healthCheck.intervalSeconds: must be 5..300, the target group health check "
        "interval",
    ),
    (
        "interval low",
        check(intervalSeconds=5, timeoutSeconds=4),
        check(intervalSeconds=4, timeoutSeconds=2),
        f"{WEB}.healthCheck.intervalSeconds: must be 5..300",
    ),
    (
        "timeout low",
        check(timeoutSeconds=2),
        check(timeoutSeconds=1),
        f"{WEB}.healthCheck.timeoutSeconds: must be 2..120, the target group health check timeout",
    ),
    (
        "timeout high",
        check(intervalSeconds=300, timeoutSeconds=120),
        check(intervalSeconds=300, timeoutSeconds=121),
        f"{WEB}.healthCheck.timeoutSeconds: must be 2..120",
    ),
    (
        "timeout below interval",
        check(intervalSeconds=6, timeoutSeconds=5),
        check(intervalSeconds=5, timeoutSeconds=5),
        f"{WEB}.healthCheck: timeoutSeconds (5) must be less than intervalSeconds (5)",
    ),
    (
        "healthy high",
        check(healthyThreshold=10),
        check(healthyThreshold=11),
        f"{WEB}.healthCheck.healthyThreshold: must be 2..10, the target group healthy threshold",
    ),
    (
        "healthy low",
        check(healthyThreshold=2),
        check(healthyThreshold=1),
        f"{WEB}.healthCheck.healthyThreshold: must be 2..10",
    ),
    (
        "unhealthy high",
        check(unhealthyThreshold=10),
        check(unhealthyThreshold=11),
        f"{WEB}.healthCheck.unhealthyThreshold: must be 2..10, the target group unhealthy",
    ),
    (
        "path length",
        check(path="/" + "a" * 1023),
        check(path="/" + "a" * 1024),
        f"{WEB}.healthCheck.path: must be 1..1024, the health check path's length (got 1025)",
    ),
    (
        "matcher high",
        check(matcher="200-499"),
        check(matcher="200-500"),
        f"{WEB}.healthCheck.matcher: must be codes 200..499",
    ),
    (
        "matcher low",
        check(matcher="200,202"),
        check(matcher="199,200"),
        f"{WEB}.healthCheck.matcher: must be codes 200..499",
    ),
    (
        "matcher Arabic-Indic digits",
        check(matcher="200"),
        check(matcher="\u0662\u0660\u0660"),
        f"{WEB}.healthCheck.matcher: must be HTTP codes such as '200', '200,202' or '200-299' "
        "(got '\u0662\u0660\u0660')",
    ),
    (
        "matcher superscript digit",
        check(matcher="200-299"),
        check(matcher="\u00b200"),
        f"{WEB}.healthCheck.matcher: must be HTTP codes such as '200', '200,202' or '200-299'",
    ),
    (
        "matcher shape",
        check(matcher="200-299"),
        check(matcher="ok"),
        f"{WEB}.healthCheck.matcher: must be HTTP codes such as '200', '200,202' or '200-299'",
    ),
    (
        "deregistration high",
        web(deregistrationDelaySeconds=3600),
        web(deregistrationDelaySeconds=3601),
        f"{WEB}.deregistrationDelaySeconds: must be 0..3600, the target group deregistration",
    ),
    (
        "deregistration low",
        web(deregistrationDelaySeconds=0),
        web(deregistrationDelaySeconds=-1),
        f"{WEB}.deregistrationDelaySeconds: must be 0..3600",
    ),
    (
        "container port high",
        web(containerPort=65535),
        web(containerPort=65536),
        f"{WEB}.containerPort: must be 1..65535, the port range of listeners and target groups",
    ),
    (
        "container port low",
        web(containerPort=1),
        web(containerPort=0),
        f"{WEB}.containerPort: must be 1..65535",
    ),
    (
        "test port high",
        web(testPort=65535),
        web(testPort=65536),
        f"{WEB}.testPort: must be 1..65535",
    ),
    (
        "test port clash",
        web(testPort=8443),
        web(testPort=443),
        f"{WEB}: testPort 443 is taken by the production listener",
    ),
    (
        "log retention",
        web(logRetentionDays=3653),
        web(logRetentionDays=3654),
        f"{WEB}.logRetentionDays: must be one of the CloudWatch Logs retention periods",
    ),
    (
        "fargate 256",
        web(cpu=256, memory=2048),
        web(cpu=256, memory=1536),
        f"{WEB}: memory 1536 does not fit cpu 256 on Fargate: use 512, 1024 or 2048 MiB",
    ),
    (
        "fargate 8 vcpu step",
        web(cpu=8192, memory=20480),
        web(cpu=8192, memory=18432),
        f"{WEB}: memory 18432 does not fit cpu 8192 on Fargate: use 16384 to 61440 in steps "
        "of 4096",
    ),
    (
        "fargate 16 vcpu top",
        web(cpu=16384, memory=122880),
        web(cpu=16384, memory=131072),
        f"{WEB}: memory 131072 does not fit cpu 16384 on Fargate: use 32768 to 122880 in steps of "
        "8192",
    ),
    (
        "fargate cpu",
        web(cpu=16384, memory=32768),
        web(cpu=32768, memory=65536),
        f"{WEB}.cpu: must be one of the Fargate task cpu sizes",
    ),
    (
        "tag key length",
        tags(key="k" * 128),
        tags(key="k" * 129),
        "stacks/dev.yaml: tags: '" + "k" * 57,
    ),
    (
        "tag value length",
        tags(value="v" * 256),
        tags(value="v" * 257),
        "stacks/dev.yaml: tags: 'team': the value must be at most 256 characters (got 257)",
    ),
    (
        "tag prefix",
        tags(key="team:aws"),
        tags(key="AWS:team"),
        "stacks/dev.yaml: tags: 'AWS:team': the prefix 'aws:' is reserved for AWS's own tags",
    ),
    # The template already sets 2 tags; the overlay's merge in beside them.
    (
        "tags per resource",
        tags(count=43),
        tags(count=44),
        "stacks/dev.yaml: tags: 46 tags (the template's and this file's, merged), but AWS "
        "allows 50 per resource and shipyard adds up to 5: keep at most 45",
    ),
    (
        "tag characters",
        tags(key="cost-center:a/b@c.d=e+f_g ü 2"),
        tags(key="cost#center!"),
        "stacks/dev.yaml: tags: 'cost#center!': the key holds '#', which AWS refuses in tags; "
        "use letters, digits, spaces and + - = . _ : / @",
    ),
    (
        "tag value characters",
        tags(value="Team A/ops@example.com"),
        tags(value="a;b"),
        "stacks/dev.yaml: tags: 'team': the value holds ';', which AWS refuses in tags",
    ),
    (
        "tags shipyard sets",
        tags(key="shipyard:project"),
        tags(key="shipyard:version"),
        "stacks/dev.yaml: tags: 'shipyard:version': shipyard sets Name and the shipyard: keys "
        "itself",
    ),
    (
        "Name tag",
        tags(key="name"),
        tags(key="Name"),
        "stacks/dev.yaml: tags: 'Name': shipyard sets Name and the shipyard: keys itself",
    ),
    (
        "environment tag",
        lambda d: d.update(tags={"shipyard:environment": "dev"}),
        lambda d: d.update(tags={"shipyard:environment": "prod"}),
        "stacks/dev.yaml: tags: 'shipyard:environment' is 'prod' but this is 'dev'",
    ),
    (
        "alarm period",
        lambda d: d.update(alarms={"periodSeconds": 60}),
        lambda d: d.update(alarms={"periodSeconds": 10}),
        "stacks/dev.yaml: alarms.periodSeconds: must be a multiple of 60: the alarms watch ALB "
        "metrics, published once a minute (got 10)",
    ),
    (
        "alarm period not a minute",
        lambda d: d.update(alarms={"periodSeconds": 120}),
        lambda d: d.update(alarms={"periodSeconds": 90}),
        "stacks/dev.yaml: alarms.periodSeconds: must be a multiple of 60",
    ),
    (
        "alarm window",
        lambda d: d.update(alarms={"periodSeconds": 3600, "evaluationPeriods": 24}),
        lambda d: d.update(alarms={"periodSeconds": 3600, "evaluationPeriods": 25}),
        "stacks/dev.yaml: alarms: periodSeconds x evaluationPeriods is 90000 seconds, over the "
        "longest alarm evaluation window",
    ),
]


@pytest.mark.parametrize(
    ("valid", "invalid", "message"),
    [pytest.param(v, i, m, id=limit) for limit, v, i, m in EDGES],
)
def test_each_limit_holds_at_its_edge(
    project: StackSources,
    cli: Callable[..., CliResult],
    valid: Callable[[dict[str, Any]], None],
    invalid: Callable[[dict[str, Any]], None],
    message: str,
) -> None:
    overlay = project.overlay("dev")
    original = overlay.read_text()
    edit_yaml(overlay, valid)
    assert cli("stacks", "render", project=project).code == 0

    overlay.write_text(original)
    edit_yaml(overlay, invalid)
    before = snapshot(project.root)
    result = cli("stacks", "render", project=project)

    assert result.code == 2, result
    assert result.err.startswith(f"shipyard: {message}"), result.err
    assert len(result.err.splitlines()) == 1
    assert "Traceback" not in result.err
    assert snapshot(project.root) == before


def rename_api(project: StackSources, name: str) -> None:
    """Rename the api service in the template and every overlay."""
    for path in [project.template, *project.stacks_dir.glob("*.yaml")]:
        path.write_text(path.read_text().replace("- name: api", f"- name: {name}"))


@pytest.mark.parametrize(
    ("valid", "invalid", "message"),
    [
        pytest.param(
            "a" * 15,
            "a" * 16,
            f"'{'a' * 16}' makes the target group name '{'a' * 16}-green-tg' plus the 8 "
            "characters Pulumi's autonaming appends: 33 characters, over AWS's 32; use at most 15",
            id="target group length",
        ),
        pytest.param(
            "sgapi",
            "sg-api",
            "'sg-api' makes the security group name 'sg-api-alb-sg', and AWS refuses names that "
            "begin with 'sg-'",
            id="sg- prefix",
        ),
        pytest.param(
            "internalapi",
            "internal-api",
            "'internal-api' makes the load balancer name 'internal-api-alb', and AWS refuses "
            "names that begin with 'internal-'",
            id="internal- prefix",
        ),
    ],
)
def test_service_names_fit_the_names_the_program_derives(
    project: StackSources, cli: Callable[..., CliResult], valid: str, invalid: str, message: str
) -> None:
    rename_api(project, valid)
    assert cli("stacks", "render", project=project).code == 0

    for path in [project.template, *project.stacks_dir.glob("*.yaml")]:
        path.write_text(path.read_text().replace(f"- name: {valid}", f"- name: {invalid}"))
    before = snapshot(project.root)
    result = cli("stacks", "render", project=project)

    assert result.code == 2, result
    assert result.err.startswith(f"shipyard: stacks/dev.yaml: services[1].name: {message}")
    assert len(result.err.splitlines()) == 1
    assert snapshot(project.root) == before


def test_the_name_table_is_what_the_program_creates(
    project: StackSources, rerender: Callable[[str], RenderedStack]
) -> None:
    """Renders the real program under mocks with a service name at the longest the table
    allows: every row's names are exactly the program's, and the autonamed ones fit AWS's
    maximum with Pulumi's suffix, the target group to the last character. A rename in
    components/ that the table does not follow fails here."""
    longest = "a" * 15
    rename_api(project, longest)
    stack = rerender("dev")
    env, services = "dev", ["web", longest]

    for row in aws_limits.NAMES:
        created = {
            r["name"] if row.field is None else r["inputs"][row.field]
            for r in stack.of_type(row.pulumi_type)
        }
        expected = {name for svc in services for name in row.names(env, svc)}
        assert created == expected, row.resource
        suffix = aws_limits.AUTONAME_SUFFIX if row.autonamed else 0
        assert max(len(name) for name in created) + suffix <= row.max_length, row.resource
        assert row.problem(env, longest) is None

    target_group = next(row for row in aws_limits.NAMES if row.resource == "target group")
    assert max(len(n) for n in target_group.names(env, longest)) + 8 == 32
    assert target_group.problem(env, longest + "a") is not None
