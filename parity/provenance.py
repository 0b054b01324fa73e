"""Where a differing value came from: the config key that produced it, and the file that set it.

`SOURCES` says, for each normalised path pattern, which config keys the Pulumi program builds that
value from (read off `__main__.py` and `components/`): `web-live-tg.deregistrationDelay` comes
from `services[name=web].deregistrationDelaySeconds`. Nothing is matched by value, so `"512"` in a
task definition and `512` in config are one source, and a new resource is explained by the key
that made it exist. Per environment the file is the one that sets the key: `stacks/<env>.yaml`,
else the template (a template default), else the model's default (`shipyard default`), else it is
`not set`.

Patterns are literal text with captures: `{service}` (a service of any compared environment),
`{role}` (`live` or `idle`; `{color}` in a key is the color with that role in each environment),
`{az}`, `{tier}`, `{var}` and `{tag}` (normalised names, mapped back to each environment's own
key), `{any}` (one path segment), `{item}` (a list item's id), `{config}` (a stack config key; a
list item's suffix is dropped), and `{name=a|b}` (one of the listed texts). The first matching row
wins. Keys are joined with `; ` when a value is built from several; a key ending in `?` is named
only when some environment's files set it (an adopted VPC's ids, explicit zones, weights), one
ending in `~` only when its value differs between the environments compared (the region inside
ARNs); a row with no keys marks a value the program fixes. Two rules sit outside the table:

- a path of a resource that some compared environment lacks is explained first by what makes
  the resource exist, its `<resource>.@resource` row (`network-nat-c` by `network.natGateways`),
  then by its own row;
- anything of a service that some environment lacks comes from that service's entry
  (`services[name=worker]`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from parity.normalise import IDLE, LIVE, RESOURCE_KEY, STACK_CONFIG, STACK_OUTPUTS, Normaliser
from shipyard.config.load import LoadedStack, StackSources

MODEL_DEFAULT = "shipyard default"
NOT_SET = "not set"
OPTIONAL = "?"
INCIDENTAL = "~"
_SERVICE = "services[name={service}]"
_CHECK = f"{_SERVICE}.healthCheck"
_ZONES = "network.availabilityZones?"
_AZS = f"network.azCount; {_ZONES}"
_NETWORK_MODE = "network.vpcId?"
# The region inside the ARNs and host names AWS makes.
_REGION = "region~"

# (normalised path pattern, the config keys that produce it)
SOURCES: tuple[tuple[str, str], ...] = (
    # The stack config names its own key: roles back to colors, an image's parts to the image,
    # a variable's entry to its key.
    (
        "stack-config.services[name={service}].{name=versions|weights}.{role}",
        f"{_SERVICE}.{{name}}.{{color}}",
    ),
    ("stack-config.services[name={service}].image.{any}", f"{_SERVICE}.image"),
    (
        "stack-config.services[name={service}].environment[name={var}].value",
        f"{_SERVICE}.environment.{{var}}",
    ),
    (
        "stack-config.services[name={service}].secrets[name={var}].valueFrom",
        f"{_SERVICE}.secrets.{{var}}",
    ),
    ("stack-config.tags.{tag}", "tags.{tag}"),
    ("stack-config.{config}", "{config}"),
    # Stack outputs.
    ("stack-outputs.services.{service}.url", f"tls; {_REGION}"),
    ("stack-outputs.services.{service}.testUrl", f"tls; {_SERVICE}.testPort; {_REGION}"),
    ("stack-outputs.services.{service}.albDnsName", _REGION),
    (
        "stack-outputs.services.{service}.{name=listenerArns|targetGroupArns|taskDefinitionArns}.{any}",
        _REGION,
    ),
    (
        "stack-outputs.services.{service}.{name=versions|weights}.{role}",
        f"{_SERVICE}.{{name}}.{{color}}",
    ),
    ("stack-outputs.services.{service}.activeColor", f"{_SERVICE}.activeColor"),
    ("stack-outputs.vpcId", "network.vpcId?"),
    # What makes a resource exist (also explains every leaf of a resource some environment lacks).
    ("{service}.@resource", _SERVICE),
    ("{service}-http-redirect.@resource", "tls"),
    ("{service}-read-secrets.@resource", f"{_SERVICE}.secrets"),
    ("network-nat-{az}-ip.@resource", f"network.natGateways; {_ZONES}; {_NETWORK_MODE}"),
    ("network-nat-{az}.@resource", f"network.natGateways; {_ZONES}; {_NETWORK_MODE}"),
    (
        "network-private-{az}-{name=routes|assoc}.@resource",
        f"{_AZS}; network.natGateways; {_NETWORK_MODE}",
    ),
    ("network-{tier}-{az}-assoc.@resource", f"{_AZS}; {_NETWORK_MODE}"),
    ("network-{tier}-{az}.@resource", f"{_AZS}; {_NETWORK_MODE}"),
    ("network-{any}.@resource", f"network.cidr; {_NETWORK_MODE}"),
    # Tags the program sets itself, over any config tag of the same key.
    ("{service}-{role}-task.tags.shipyard:version", f"{_SERVICE}.versions.{{color}}"),
    ("{any}.tags.{name=Name|shipyard:environment}", ""),
    ("{service}-{any}.tags.{name=shipyard:service|shipyard:color}", ""),
    ("network-{tier}-{az}.tags.shipyard:tier", ""),
    ("{any}.tags.{tag}", "tags.{tag}"),
    # Target groups.
    ("{service}-{role}-tg.port", f"{_SERVICE}.containerPort"),
    ("{service}-{role}-tg.deregistrationDelay", f"{_SERVICE}.deregistrationDelaySeconds"),
    ("{service}-{role}-tg.healthCheck.path", f"{_CHECK}.path"),
    ("{service}-{role}-tg.healthCheck.matcher", f"{_CHECK}.matcher"),
    ("{service}-{role}-tg.healthCheck.interval", f"{_CHECK}.intervalSeconds"),
    ("{service}-{role}-tg.healthCheck.timeout", f"{_CHECK}.timeoutSeconds"),
    ("{service}-{role}-tg.healthCheck.healthyThreshold", f"{_CHECK}.healthyThreshold"),
    ("{service}-{role}-tg.healthCheck.unhealthyThreshold", f"{_CHECK}.unhealthyThreshold"),
    # ECS services: an idle color with traffic (explicit weights) runs desiredCount.
    ("{service}-{role=live}-service.desiredCount", f"{_SERVICE}.desiredCount"),
    (
        "{service}-{role=idle}-service.desiredCount",
        f"{_SERVICE}.idleDesiredCount; {_SERVICE}.weights.{{color}}?",
    ),
    (
        "{service}-{role}-service.healthCheckGracePeriodSeconds",
        f"{_CHECK}.intervalSeconds; {_CHECK}.healthyThreshold",
    ),
    (
        "{service}-{role}-service.loadBalancers[{item}].containerPort",
        f"{_SERVICE}.containerPort; {_REGION}",
    ),
    ("{service}-{role}-service.loadBalancers[{item}].containerName", _REGION),
    ("{service}-{role}-service.{name=cluster|taskDefinition}", _REGION),
    (
        "{service}-{role}-service.networkConfiguration.subnets[{item}]",
        f"{_AZS}; network.natGateways; network.privateSubnetIds?",
    ),
    (
        "{service}-{role}-service.networkConfiguration.assignPublicIp",
        f"network.natGateways; {_NETWORK_MODE}",
    ),
    # Task definitions and their container.
    ("{service}-{role}-task.cpu", f"{_SERVICE}.cpu"),
    ("{service}-{role}-task.memory", f"{_SERVICE}.memory"),
    (
        "{service}-{role}-task.containerDefinitions[name={service}].image.repository",
        f"{_SERVICE}.image",
    ),
    (
        "{service}-{role}-task.containerDefinitions[name={service}].image.tag",
        f"{_SERVICE}.versions.{{color}}",
    ),
    (
        "{service}-{role}-task.containerDefinitions[name={service}]"
        ".environment[name=SHIPYARD_VERSION].value",
        f"{_SERVICE}.versions.{{color}}",
    ),
    (
        "{service}-{role}-task.containerDefinitions[name={service}]"
        ".environment[name=SHIPYARD_COLOR].value",
        "",
    ),
    (
        "{service}-{role}-task.containerDefinitions[name={service}].environment[name={var}].value",
        f"{_SERVICE}.environment.{{var}}",
    ),
    (
        "{service}-{role}-task.containerDefinitions[name={service}].secrets[name={var}].valueFrom",
        f"{_SERVICE}.secrets.{{var}}",
    ),
    ("{service}-{role}-task.containerDefinitions[name={service}].secrets", f"{_SERVICE}.secrets"),
    (
        "{service}-{role}-task.containerDefinitions[name={service}].portMappings[{item}]",
        f"{_SERVICE}.containerPort",
    ),
    (
        "{service}-{role}-task.containerDefinitions[name={service}]"
        ".logConfiguration.options.awslogs-region",
        "region",
    ),
    ("{service}-read-secrets.policy.Statement[{item}]", f"{_SERVICE}.secrets"),
    ("{service}-logs.retentionInDays", f"{_SERVICE}.logRetentionDays"),
    # Load balancer, listeners, security groups.
    ("{service}-alb.subnets[{item}]", f"{_AZS}; network.publicSubnetIds?"),
    (
        "{service}-production.defaultActions[type=forward].forward"
        ".targetGroups[arn={item}/{service}-{role}-tg].weight",
        f"{_SERVICE}.weights.{{color}}?; {_REGION}",
    ),
    ("{service}-test.defaultActions[type=forward].targetGroupArn", _REGION),
    ("{any}.loadBalancerArn", _REGION),
    ("{service}-{name=production|test}.certificateArn", "tls.certificateArn"),
    ("{service}-{name=production|test}.sslPolicy", "tls.sslPolicy"),
    ("{service}-{name=production|test}.protocol", "tls"),
    ("{service}-production.port", "tls"),
    ("{service}-test.port", f"{_SERVICE}.testPort"),
    (
        '{service}-alb-sg.ingress[cidrBlocks=["0.0.0.0/0"],fromPort=443,protocol=tcp,toPort=443]',
        "tls",
    ),
    # The test port's sources (components/access.py), each rule named by its description.
    (
        "{service}-alb-sg.ingress[cidrBlocks={item},description=test listener from the VPC,{any}]",
        f"network.cidr; {_SERVICE}.testPort",
    ),
    (
        "{service}-alb-sg.ingress[cidrBlocks={item},"
        "description=test listener from NAT gateway network-nat-{az}-ip,{any}]",
        f"network.natGateways; {_ZONES}; {_NETWORK_MODE}; {_SERVICE}.testPort",
    ),
    (
        "{service}-alb-sg.ingress[cidrBlocks={item},"
        "description=test listener from network.testAccessCidrs,{any}]",
        f"network.testAccessCidrs; network.testAccessPublic?; {_SERVICE}.testPort",
    ),
    ("{service}-alb-sg.ingress[{item}]", f"{_SERVICE}.testPort"),
    ("{service}-task-sg.ingress[{item}]", f"{_SERVICE}.containerPort"),
    # Alarms.
    ("{service}-alarms-{role}-5xx.{name=threshold|alarmDescription}", "alarms.http5xxCount"),
    (
        "{service}-alarms-{role}-unhealthy-hosts.{name=threshold|alarmDescription}",
        "alarms.unhealthyHosts",
    ),
    (
        "{service}-alarms-{role}-p99-latency.{name=threshold|alarmDescription}",
        "alarms.p99LatencySeconds",
    ),
    ("{service}-alarms-{any}.period", "alarms.periodSeconds"),
    ("{service}-alarms-{any}.evaluationPeriods", "alarms.evaluationPeriods"),
    # Network.
    ("network-vpc.cidrBlock", "network.cidr"),
    ("network-public-{az}.cidrBlock", "network.cidr"),
    ("network-private-{az}.cidrBlock", "network.cidr; network.azCount"),
    ("network-{tier}-{az}.availabilityZone", f"region; {_ZONES}"),
    ("network-private-{az}-routes.routes[{item}]", "network.natGateways"),
    ("{any}.vpcId", "network.vpcId?"),
)

CAPTURES = {
    "role": f"{LIVE}|{IDLE}",
    "az": "[a-z]",
    "tier": "public|private",
    "var": r"[^.\]]+",
    "tag": ".+",
    "any": "[^.]+",
    "item": ".+?",
    "config": ".+",
}
_PLACEHOLDER = re.compile(r"\{(\w+)(?:=([^}]*))?\}")
_SEGMENT = re.compile(r"\[name=([^\]]+)\]|\[(\d+)\]|\.?([^.\[]+)")
# Maps whose keys may hold dots: the rest of the key after them is one key.
_FREE_FORM = ("tags", "pulumiConfig")
# A list item's suffix on a stack-config path (`deploy.trafficSteps[0]`), not a service's name.
_ITEM_SUFFIX = re.compile(r"\[(?!name=).*$")


@dataclass(frozen=True)
class Row:
    pattern: str
    keys: tuple[str, ...]
    regex: re.Pattern[str]


def one_of(names: set[str]) -> str:
    """A regex alternation of these names, longest first (nothing when there are none)."""
    return "|".join(re.escape(n) for n in sorted(names, key=lambda n: (-len(n), n))) or "(?!)"


def compile_rows(service: str) -> list[Row]:
    """SOURCES as regexes; `{service}` matches the `service` regex."""
    return [
        Row(pattern, tuple(k for k in keys.split("; ") if k), _regex(pattern, service))
        for pattern, keys in SOURCES
    ]


def _regex(pattern: str, service: str) -> re.Pattern[str]:
    parts, seen, at = [], set(), 0
    for match in _PLACEHOLDER.finditer(pattern):
        parts.append(re.escape(pattern[at : match.start()]))
        name, fixed = match.group(1), match.group(2)
        if name in seen:
            parts.append(f"(?P={name})")
        else:
            seen.add(name)
            if fixed is not None:
                body = "|".join(re.escape(text) for text in fixed.split("|"))
            else:
                body = service if name == "service" else CAPTURES[name]
            parts.append(f"(?P<{name}>{body})")
        at = match.end()
    parts.append(re.escape(pattern[at:]))
    return re.compile("".join(parts) + r"\Z")


class Provenance:
    """Explains a path by the config keys `SOURCES` names, per environment."""

    def __init__(
        self,
        sources: StackSources,
        stacks: Mapping[str, LoadedStack],
        roles: Mapping[str, Mapping[str, Mapping[str, str]]],
        present: Mapping[str, Mapping[str, bool]] | None = None,
    ) -> None:
        self._sources = sources
        self._stacks = stacks
        self._roles = roles
        self._present = present or {}
        self._dumped = {
            env: loaded.config.model_dump(mode="json", by_alias=True, exclude_none=True)
            for env, loaded in stacks.items()
        }
        env_names = sorted({*sources.environments(), *stacks})
        self._services = {
            env: {s.name for s in loaded.config.services} for env, loaded in stacks.items()
        }
        self._normalisers = {env: Normaliser(env, env_names, roles.get(env, {})) for env in stacks}
        names = one_of(set().union(*self._services.values()))
        self.rows = compile_rows(names)
        # A path of a service's: its stack config entry, its outputs, its resources.
        self._service_path = re.compile(
            rf"{STACK_CONFIG}\.services\[name=({names})\]|{STACK_OUTPUTS}\.services\.({names})\."
            rf"|(?!{STACK_CONFIG}\.|{STACK_OUTPUTS}\.)({names})[-.]"
        )

    def explain(self, path: str) -> dict[str, str] | None:
        """Per environment, each key that produced the value and the file that set it; None
        when no config key produces it."""
        service = self._service_of(path)
        if service is not None and any(service not in names for names in self._services.values()):
            return self._explained([((_SERVICE,), {"service": service})])
        resource = path.split(".", 1)[0]
        present = self._present.get(resource, {})
        parts = []
        if len({present.get(env, True) for env in self._stacks}) > 1:
            parts.append(self.match(f"{resource}.{RESOURCE_KEY}"))
        parts.append(self.match(path))
        return self._explained([(row.keys, captures) for row, captures in filter(None, parts)])

    def _explained(
        self, parts: list[tuple[tuple[str, ...], Mapping[str, str]]]
    ) -> dict[str, str] | None:
        per_env: dict[str, list[str]] = {}
        for env in self._stacks:
            keys = per_env.setdefault(env, [])
            for templates, captures in parts:
                keys.extend(k for k in self.keys(env, templates, captures) if k not in keys)
        if not any(per_env.values()):
            return None
        return {
            env: "; ".join(f"{self._origin(env, key)}: {key}" for key in keys)
            for env, keys in per_env.items()
            if keys
        }

    def _service_of(self, path: str) -> str | None:
        found = self._service_path.match(path)
        return next((s for s in found.groups() if s), None) if found else None

    def match(self, path: str) -> tuple[Row, dict[str, str]] | None:
        """The first row whose pattern matches the path, with its captures."""
        for row in self.rows:
            found = row.regex.match(path)
            if found:
                return row, {k: v for k, v in found.groupdict().items() if v is not None}
        return None

    def keys(self, env: str, templates: tuple[str, ...], captures: Mapping[str, str]) -> list[str]:
        """The keys for one environment, less the optional ones no environment's files set and
        the incidental ones whose value is the same in every environment compared."""
        out = []
        for template in templates:
            bare = template.rstrip(OPTIONAL + INCIDENTAL)
            key = self._fill(env, bare, captures)
            if key is None:
                continue
            every = {e: self._fill(e, bare, captures) or "" for e in self._stacks}
            if template.endswith(OPTIONAL) and not any(
                self._written(e, k) for e, k in every.items()
            ):
                continue
            if template.endswith(INCIDENTAL):
                values = [_lookup(self._dumped[e], k) for e, k in every.items()]
                if all(v == values[0] for v in values):
                    continue
            out.append(key)
        return out

    def _fill(self, env: str, template: str, captures: Mapping[str, str]) -> str | None:
        values = dict(captures)
        service = captures.get("service", "")
        if "role" in captures:
            colors = {role: color for color, role in self._roles[env].get(service, {}).items()}
            if captures["role"] not in colors:
                return None
            values["color"] = colors[captures["role"]]
        config = self._stacks[env].config
        if "var" in captures:
            entry = config.service(service) if service in self._services[env] else None
            names = [*entry.environment, *entry.secrets] if entry else []
            values["var"] = self._own_key(env, captures["var"], service, names)
        if "tag" in captures:
            values["tag"] = self._own_key(env, captures["tag"], service, list(config.tags))
        if "config" in captures:
            values["config"] = _ITEM_SUFFIX.sub("", captures["config"])
        return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)

    def _own_key(self, env: str, shown: str, service: str, keys: list[str]) -> str:
        """The environment's own key that normalises to `shown` (`{env}` and roles undone)."""
        norm = self._normalisers[env]
        for key in keys:
            if shown in (norm.text(key), norm.text(key, service), norm.color(key, service)):
                return key
        return shown

    def _written(self, env: str, key: str) -> bool:
        """Whether the environment's overlay or the template writes the key."""
        loaded = self._stacks[env]
        return _sets(loaded.overlay, key, removed=True) or _sets(loaded.base, key, removed=True)

    def _origin(self, env: str, key: str) -> str:
        loaded = self._stacks[env]
        if _sets(loaded.overlay, key, removed=True):
            return self._sources.rel(self._sources.overlay(env))
        if _sets(loaded.base, key, removed=True):
            return f"{self._sources.rel(self._sources.template)} (template default)"
        if _sets(self._dumped[env], key):
            return MODEL_DEFAULT
        return NOT_SET


def key_segments(key: str) -> list[tuple[str, str]]:
    """A config key as (kind, text) steps: ("name", "web") for `[name=web]`, ("index", "0"),
    ("key", "healthCheck"); a tag's or a Pulumi key's rest is one step, dots and all."""
    for section in _FREE_FORM:
        if key.startswith(f"{section}."):
            return [("key", section), ("key", key[len(section) + 1 :])]
    steps = []
    for named, index, plain in _SEGMENT.findall(key):
        if named:
            steps.append(("name", named))
        elif index:
            steps.append(("index", index))
        else:
            steps.append(("key", plain))
    return steps


_MISSING = object()


def _lookup(doc: Any, key: str, removed: bool = False) -> Any:
    """The value a config document holds at key (`services[name=web].healthCheck.path`), or
    _MISSING; with `removed`, an explicit null on the way (`tls: null`) is returned as None."""
    here = doc
    for kind, text in key_segments(key):
        if kind == "name":
            if not isinstance(here, list):
                return _MISSING
            here = next((i for i in here if isinstance(i, dict) and i.get("name") == text), None)
            if here is None:
                return _MISSING
        elif kind == "index":
            if not isinstance(here, list) or int(text) >= len(here):
                return _MISSING
            here = here[int(text)]
        else:
            if not isinstance(here, dict) or text not in here:
                return _MISSING
            here = here[text]
        if here is None:
            return None if removed else _MISSING
    return here


def _sets(doc: Any, key: str, removed: bool = False) -> bool:
    """Whether a config document sets key; with `removed`, a null on the way counts."""
    return bool(key) and _lookup(doc, key, removed) is not _MISSING
