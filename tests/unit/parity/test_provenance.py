"""Provenance: every difference an edit to stacks/prod.yaml causes names the key that was edited.

Each case edits a copy of the project's prod overlay, renders prod again, runs parity for
staging and prod, and checks every difference that was not there before (or whose values
moved): its prod source names the edited key, set in stacks/prod.yaml, and every edited key is
named by some difference. Edits share a run when they touch different paths (web's and api's,
the network's and the alarms'); a difference is then held to the edits whose `owns` finds its
path.
"""

from __future__ import annotations

import re
import shutil
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from parity.normalise import normalise_stack
from parity.provenance import SOURCES, Provenance, key_segments
from parity.render import RenderedStack, render_stack
from parity.run import ParityOptions, report_dict, run_parity
from shipyard.config.load import StackSources, load_stack
from shipyard.config.model import StackConfig
from shipyard.stacks import plan_stack_files, write_stack_files
from tests.conftest import REPO, copy_project

ENVS = ["staging", "prod"]
PROD_FILE = "stacks/prod.yaml"
ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:shipyard/{env}/{name}"


@dataclass(frozen=True)
class Edit:
    """Config keys set in stacks/prod.yaml, the patch that sets them (services by name, a null
    removes the template's key), and which differences it answers for when it shares a run:
    those whose path `owns` finds."""

    keys: tuple[str, ...]
    patch: dict[str, Any]
    owns: str = ""


def service_edit(name: str, keys: tuple[str, ...], fields: dict[str, Any]) -> Edit:
    named = tuple(f"services[name={name}].{key}" for key in keys)
    owns = rf"^{name}-|\[name={name}\]|\.services\.{name}\."
    return Edit(named, {"services": [{"name": name, **fields}]}, owns)


def web(key: str, *more: str, **fields: Any) -> Edit:
    return service_edit("web", (key, *more), fields)


def api(key: str, *more: str, **fields: Any) -> Edit:
    return service_edit("api", (key, *more), fields)


def top(key: str, owns: str = "", **patch: Any) -> Edit:
    return Edit((key,), patch, owns)


NETWORK = "network"  # network-* resources, tasks' networkConfiguration, stack-config.network
CASES: dict[str, list[Edit]] = {
    "memory, desiredCount": [web("memory", memory=2048), api("desiredCount", desiredCount=5)],
    "desiredCount, idleDesiredCount": [
        web("desiredCount", desiredCount=6),
        api("idleDesiredCount", idleDesiredCount=1),
    ],
    "containerPort, testPort": [
        web("containerPort", containerPort=8090),
        api("testPort", testPort=9101),
    ],
    "deregistrationDelaySeconds, logRetentionDays": [
        web("deregistrationDelaySeconds", deregistrationDelaySeconds=120),
        api("logRetentionDays", logRetentionDays=90),
    ],
    "image, healthCheck.path": [
        web("image", image="123456789012.dkr.ecr.us-east-1.amazonaws.com/other-web"),
        api("healthCheck.path", healthCheck={"path": "/ready"}),
    ],
    "healthCheck.matcher, healthCheck.intervalSeconds": [
        web("healthCheck.matcher", healthCheck={"matcher": "200-299"}),
        api("healthCheck.intervalSeconds", healthCheck={"intervalSeconds": 20}),
    ],
    "healthCheck.timeoutSeconds, healthCheck.unhealthyThreshold": [
        web("healthCheck.timeoutSeconds", healthCheck={"timeoutSeconds": 8}),
        api("healthCheck.unhealthyThreshold", healthCheck={"unhealthyThreshold": 4}),
    ],
    # Fargate takes 512 cpu units with 1024 MiB or more: api's cpu moves with its memory.
    "healthCheck.healthyThreshold, cpu": [
        web("healthCheck.healthyThreshold", healthCheck={"healthyThreshold": 5}),
        api("cpu", "memory", cpu=512, memory=1024),
    ],
    "environment: a changed and a new variable": [
        web("environment.LOG_LEVEL", environment={"LOG_LEVEL": "warn"}),
        api("environment.FEATURE_FLAGS", environment={"FEATURE_FLAGS": "search"}),
    ],
    "secrets: a changed one, and the first of a service": [
        # The read-secrets policy is built from every secret of the service.
        web(
            "secrets.DATABASE_URL",
            "secrets",
            secrets={"DATABASE_URL": ARN.format(env="prod", name="db2")},
        ),
        api("secrets", secrets={"API_TOKEN": ARN.format(env="prod", name="api-token")}),
    ],
    "versions: live and idle": [
        web("versions.blue", versions={"blue": "v2", "green": "v1"}),
        api("versions.green", versions={"blue": "v1", "green": "v3"}),
    ],
    "activeColor with versions, weights": [
        web("versions.green", activeColor="green", versions={"blue": "v1", "green": "v2"}),
        api("weights", weights={"blue": 90, "green": 10}),
    ],
    # Roles: a rollout that flips the live color changes nothing but the version that runs.
    "activeColor alone": [Edit((), {"services": [{"name": "web", "activeColor": "green"}]})],
    "alarm thresholds": [
        top("alarms.http5xxCount", "-5xx|http5xx", alarms={"http5xxCount": 7}),
        top("alarms.unhealthyHosts", "unhealthy-?hosts", alarms={"unhealthyHosts": 2}),
        top("alarms.p99LatencySeconds", "p99-?latency", alarms={"p99LatencySeconds": 2.5}),
    ],
    "network.cidr, alarms.periodSeconds": [
        top("network.cidr", NETWORK, network={"cidr": "10.40.0.0/16"}),
        top("alarms.periodSeconds", "alarms", alarms={"periodSeconds": 120}),
    ],
    "network.azCount, alarms.evaluationPeriods": [
        top("network.azCount", NETWORK, network={"azCount": 4}),
        top("alarms.evaluationPeriods", "alarms", alarms={"evaluationPeriods": 5}),
    ],
    "network.natGateways: fewer, tls.sslPolicy": [
        top("network.natGateways", NETWORK, network={"natGateways": 2}),
        top("tls.sslPolicy", "sslPolicy", tls={"sslPolicy": "ELBSecurityPolicy-TLS13-1-3-2021-06"}),
    ],
    "network.natGateways: none, tls.certificateArn": [
        top("network.natGateways", NETWORK, network={"natGateways": 0}),
        top(
            "tls.certificateArn",
            "certificateArn",
            tls={"certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/x"},
        ),
    ],
    "network.availabilityZones": [
        top(
            "network.availabilityZones",
            network={"availabilityZones": ["us-east-1d", "us-east-1e", "us-east-1f"]},
        )
    ],
    "network: an adopted VPC": [
        Edit(
            (
                "network.vpcId",
                "network.cidr",
                "network.publicSubnetIds",
                "network.privateSubnetIds",
                "network.testAccessCidrs",
            ),
            {
                "network": {
                    "cidr": None,
                    "vpcId": "vpc-0aaaaaaaaaaaaaaaa",
                    "publicSubnetIds": ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"],
                    "privateSubnetIds": ["subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2"],
                    "testAccessCidrs": ["10.40.0.0/16", "203.0.113.10/32"],
                }
            },
        )
    ],
    "tags": [top("tags.cost-center", tags={"cost-center": "retail"})],
    # ARNs and host names carry the region.
    "region": [top("region", region="us-west-2")],
}


@dataclass
class Run:
    report: dict[str, Any]
    by_path: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_path = {d["path"]: d for d in self.report["differences"]}


@pytest.fixture(scope="module")
def baseline(repo_sources: StackSources, rendered: dict[str, RenderedStack]) -> Run:
    stacks = {env: rendered[env] for env in ENVS}
    return Run(report_dict(run_parity(repo_sources, ParityOptions(environments=ENVS), stacks)))


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> StackSources:
    """One writable copy of the project for every case; each case rewrites stacks/prod.yaml."""
    return copy_project(tmp_path_factory.mktemp("provenance") / "project")


def run_with(project: StackSources, edits: list[Edit], rendered: dict[str, RenderedStack]) -> Run:
    overlay = yaml.safe_load((REPO / PROD_FILE).read_text())
    for edit in edits:
        overlay = patched(overlay, edit.patch)
    project.overlay("prod").write_text(yaml.safe_dump(overlay, sort_keys=False))
    write_stack_files(project, plan_stack_files(project, ["prod"]))
    stacks = {"staging": rendered["staging"], "prod": render_stack(project, "prod")}
    return Run(report_dict(run_parity(project, ParityOptions(environments=ENVS), stacks)))


def patched(overlay: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """The overlay with the patch written into it: services by name, a null kept (it removes
    the template's key when the overlay is merged)."""
    out = dict(overlay)
    for key, value in patch.items():
        if key == "services":
            entries = {s["name"]: s for s in out.get(key, [])}
            for entry in value:
                entries[entry["name"]] = patched(entries.get(entry["name"], {}), entry)
            out[key] = list(entries.values())
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = patched(out[key], value)
        else:
            out[key] = value
    return out


def caused(before: Run, after: Run) -> list[dict[str, Any]]:
    return [
        d
        for path, d in after.by_path.items()
        if path not in before.by_path or before.by_path[path]["values"] != d["values"]
    ]


def named(source: str | None) -> dict[str, str]:
    """{key: the file that set it} from one environment's source text."""
    if source is None:
        return {}
    parts = (part.partition(": ") for part in source.split("; "))
    return {key: origin for origin, _, key in parts}


def under(key: str, edited: str) -> bool:
    return key == edited or key.startswith((f"{edited}.", f"{edited}["))


@pytest.mark.parametrize("case", list(CASES))
def test_every_difference_an_edit_causes_names_the_edited_key(
    case: str,
    copy: StackSources,
    baseline: Run,
    rendered: dict[str, RenderedStack],
) -> None:
    edits = CASES[case]
    differences = caused(baseline, run_with(copy, edits, rendered))
    keys = [key for edit in edits for key in edit.keys]
    if not keys:
        assert differences == []
        return
    wrong = []
    explained: set[str] = set()
    for difference in differences:
        owners = [e for e in edits if e.owns and re.search(e.owns, difference["path"])]
        owned = [key for edit in owners for key in edit.keys] or keys
        prod = named((difference["source"] or {}).get("prod"))
        hits = [k for k in prod if any(under(k, edited) for edited in owned)]
        if not hits or any(prod[k] != PROD_FILE for k in hits):
            wrong.append((difference["path"], difference["source"]))
        explained.update(e for e in owned for k in hits if under(k, e))
    assert wrong == []
    assert explained == set(keys), "an edit caused no difference that names it"


def test_a_string_in_a_resource_and_an_int_in_config_are_one_source(baseline: Run) -> None:
    cpu = baseline.by_path["web-live-task.cpu"]
    assert cpu["values"] == {"staging": "256", "prod": "512"}
    assert cpu["source"] == {
        "staging": "stacks/template.yaml.j2 (template default): services[name=web].cpu",
        "prod": "stacks/prod.yaml: services[name=web].cpu",
    }


def test_a_resource_only_prod_has_is_explained_by_what_made_it_exist(baseline: Run) -> None:
    template = "stacks/template.yaml.j2 (template default)"
    assert baseline.by_path["network-nat-c.subnetId"]["source"] == {
        "staging": f"{template}: network.natGateways",
        "prod": "stacks/prod.yaml: network.natGateways",
    }
    assert baseline.by_path["network-public-c.tags.Name"]["source"] == {
        "staging": f"{template}: network.azCount",
        "prod": "stacks/prod.yaml: network.azCount",
    }
    # What made it exist first, then what its value is built from.
    assert baseline.by_path["network-nat-c.tags.shipyard:project"]["source"] == {
        "staging": f"{template}: network.natGateways; {template}: tags.shipyard:project",
        "prod": f"stacks/prod.yaml: network.natGateways; {template}: tags.shipyard:project",
    }
    assert baseline.by_path["network-private-c.cidrBlock"]["source"] == {
        "staging": f"{template}: network.azCount; stacks/staging.yaml: network.cidr",
        "prod": "stacks/prod.yaml: network.azCount; stacks/prod.yaml: network.cidr",
    }
    assert baseline.by_path["network-private-c-routes.vpcId"]["source"] == {
        "staging": f"{template}: network.azCount; {template}: network.natGateways",
        "prod": "stacks/prod.yaml: network.azCount; stacks/prod.yaml: network.natGateways",
    }
    assert baseline.by_path["web-http-redirect.port"]["source"] == {
        "staging": "not set: tls",
        "prod": "stacks/prod.yaml: tls",
    }


def test_a_value_built_from_two_keys_names_both(repo_sources: StackSources) -> None:
    prod = load_stack(repo_sources, "prod")
    provenance = Provenance(repo_sources, {"prod": prod}, {"prod": {"web": {"blue": "live"}}})
    assert provenance.explain("web-live-service.healthCheckGracePeriodSeconds") == {
        "prod": "stacks/template.yaml.j2 (template default): "
        "services[name=web].healthCheck.intervalSeconds; "
        "stacks/template.yaml.j2 (template default): "
        "services[name=web].healthCheck.healthyThreshold"
    }
    # A key the files leave to the model is the model's default; a value the program fixes
    # has no source.
    assert provenance.explain("web-logs.retentionInDays") == {
        "prod": "shipyard default: services[name=web].logRetentionDays"
    }
    assert provenance.explain("web-live-task.requiresCompatibilities[FARGATE]") is None
    assert provenance.explain("web-live-tg.tags.Name") is None


def test_a_normalised_name_is_the_environments_own_key(tmp_path: Path) -> None:
    root = tmp_path / "project"
    shutil.copytree(REPO / "stacks", root / "stacks")
    overlay = yaml.safe_load((REPO / PROD_FILE).read_text())
    patch = {
        "tls": None,
        "tags": {"owner-prod": "platform"},
        "services": [{"name": "web", "environment": {"url_blue": "https://blue.internal"}}],
    }
    (root / PROD_FILE).write_text(yaml.safe_dump(patched(overlay, patch)))
    sources = StackSources(root)
    prod = load_stack(sources, "prod")
    roles = {"prod": {"web": {"blue": "live", "green": "idle"}, "api": {"blue": "live"}}}
    provenance = Provenance(sources, {"prod": prod}, roles)
    # `prod` reads `{env}` in the rendered paths; a user's own word `blue` stays as written.
    assert provenance.explain("cluster.tags.owner-{env}") == {
        "prod": "stacks/prod.yaml: tags.owner-prod"
    }
    var = "web-live-task.containerDefinitions[name=web].environment[name=url_blue].value"
    assert provenance.explain(var) == {
        "prod": "stacks/prod.yaml: services[name=web].environment.url_blue"
    }
    # A key the overlay removes (`tls: null`) is the overlay's doing.
    assert provenance.explain("web-production.port") == {"prod": "stacks/prod.yaml: tls"}


def test_a_service_one_environment_lacks_is_its_entry(tmp_path: Path) -> None:
    root = tmp_path / "project"
    shutil.copytree(REPO / "stacks", root / "stacks")
    overlay = root / PROD_FILE
    overlay.write_text(
        overlay.read_text().replace(
            "  - name: api\n",
            "  - name: worker\n    image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/w\n"
            "    containerPort: 8082\n    testPort: 9002\n    versions: {blue: v1}\n"
            "  - name: api\n",
        )
    )
    sources = StackSources(root)
    stacks = {env: load_stack(sources, env) for env in ENVS}
    roles = {
        env: {s.name: {"blue": "live", "green": "idle"} for s in stacks[env].config.services}
        for env in ENVS
    }
    present = {"worker-http-redirect": {"staging": False, "prod": True}}
    provenance = Provenance(sources, stacks, roles, present)
    expected = {
        "staging": "not set: services[name=worker]",
        "prod": "stacks/prod.yaml: services[name=worker]",
    }
    assert provenance.explain("worker-http-redirect.port") == expected
    assert provenance.explain("stack-outputs.services.worker.url") == expected


def leaves_of(rendered: dict[str, RenderedStack], sources: StackSources) -> set[str]:
    names = sources.environments()
    return {
        path
        for env, stack in rendered.items()
        for path in normalise_stack(stack, names, load_stack(sources, env)).leaves
    }


def test_every_row_matches_a_committed_path_and_names_keys_the_model_has(
    repo_sources: StackSources, rendered: dict[str, RenderedStack]
) -> None:
    envs = repo_sources.environments()
    stacks = {env: load_stack(repo_sources, env) for env in envs}
    roles = {
        env: {
            s.name: {s.active_color.value: "live", s.active_color.other.value: "idle"}
            for s in stacks[env].config.services
        }
        for env in envs
    }
    provenance = Provenance(repo_sources, stacks, roles)
    matched: dict[str, list[str]] = {pattern: [] for pattern, _ in SOURCES}
    for path in sorted(leaves_of(rendered, repo_sources)):
        found = provenance.match(path)
        if found is not None:
            matched[found[0].pattern].append(path)
    assert [pattern for pattern, paths in matched.items() if not paths] == []
    unknown = set()
    for row in provenance.rows:
        for path in matched[row.pattern]:
            _, captures = provenance.match(path) or (None, {})
            for env in envs:
                for key in provenance.keys(env, row.keys, captures):
                    if not model_has(StackConfig, key):
                        unknown.add((row.pattern, key))
    assert unknown == set()


def model_has(model: type[BaseModel], key: str) -> bool:
    """Whether a config key names a field of the model (`services[name=web].healthCheck.path`;
    any key of a free-form map such as `tags` or a service's `environment`)."""
    here: Any = model
    for kind, text in key_segments(key):
        here = _unwrap(here)
        if kind in ("name", "index"):
            if typing.get_origin(here) is not list:
                return False
            here = typing.get_args(here)[0]
        elif isinstance(here, type) and issubclass(here, BaseModel):
            fields = {f.alias or n: f for n, f in here.model_fields.items()}
            if text not in fields:
                return False
            here = fields[text].annotation
        elif typing.get_origin(here) is dict:
            here = typing.get_args(here)[1]
        else:
            return False
    return True


def _unwrap(annotation: Any) -> Any:
    """`X | None` and `Annotated[X, ...]` as X."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            options: Iterable[Any] = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = next(iter(options))
        else:
            return annotation
