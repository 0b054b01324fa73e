"""Rendered stacks -> comparable trees, and their leaves.

A stack becomes a tree `{resource: {property: value}}` that deepdiff compares, and the same tree
flattened to leaves `{path: value}` that the report shows. A path is `<resource>.<property
path>`: `web-live-tg.healthCheck.path`. Normalising makes equal things look equal, and only
equal things:

- the stack's *own* environment name inside a string becomes `{env}` (`shipyard-prod` ->
  `shipyard-{env}` in prod); another environment's name is left as it is and recorded as a
  cross-environment reference (`shipyard/staging/web` in prod names staging);
- colors become roles: within a service's resources, its active color is `live` and the other
  `idle` (`web-blue-tg` -> `web-live-tg` where blue is live), so a rollout that flips the live
  color changes nothing but the version that runs;
- the id AWS generates into an ARN suffix becomes `{id}` (`targetgroup/web-live-tg/{id}`);
- whole floats become ints (`80.0` -> `80`); secrets are already `"[secret]"` from the renderer;
- JSON held in strings (container definitions, IAM policies) is parsed;
- a container image is split into `repository` and `tag` (and `digest`), so a rule can allow a
  different tag without allowing a different repository;
- lists of objects with a unique identity field are keyed by it (`environment[name=LOG_LEVEL]`,
  `defaultActions[type=forward]`, `targetGroups[arn=...]`); lists whose order means something
  (`command`, `entryPoint`, `trafficSteps`) are keyed by position (`[0]`); every other list is a
  multiset, compared without regard to order, whose items are named by their whole content
  (`ingress[cidrBlocks=["0.0.0.0/0"],fromPort=443,protocol=tcp,toPort=443]`);
- resources are keyed by logical name (roles applied), never by position; each has
  `@resource` (its type, and its parent); the stack config is the pseudo resource
  `stack-config` and the stack's outputs `stack-outputs`.

The tree's leaves, and the *setting* each belongs to, come from parity.leaves.
"""

from __future__ import annotations

import re
import unicodedata
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from parity.leaves import flatten, strings
from parity.render import RenderedStack
from shipyard.config.json_text import json_in
from shipyard.config.load import LoadedStack
from shipyard.revision import repository_of, tag_of

ENV_TOKEN = "{env}"
RESOURCE_KEY = "@resource"
STACK_CONFIG = "stack-config"
STACK_OUTPUTS = "stack-outputs"
PSEUDO_RESOURCES = (STACK_CONFIG, STACK_OUTPUTS)
LIVE, IDLE = "live", "idle"
COLORS = ("blue", "green")
# Fields that name an item of a list of objects, tried in this order; the first that every
# item has, as a distinct string, keys the list.
IDENTITY_FIELDS = ("name", "type", "arn", "targetGroupArn")
# Lists whose order is part of their meaning: keyed by position, not compared as multisets.
ORDERED_LISTS = frozenset({"command", "entryPoint", "trafficSteps"})
SECURE = "[secret]"
COLORS_RE = "blue|green"
# Where the program writes a color on its own (not inside a name): these keys' values, the
# SHIPYARD_COLOR variable, and maps keyed by color (the outputs' `versions`, `weights`, ...).
COLOR_VALUE_KEYS = frozenset({"activeColor", "awslogs-stream-prefix", "shipyard:color"})
COLOR_VARIABLES = frozenset({"SHIPYARD_COLOR"})
# Words that name no environment whatever they contain: AWS regions and zones (`us-east-1a`
# for an environment called `us`) and device files (`/dev/stdout` for `dev`).
_NEVER_AN_ENVIRONMENT = (
    r"[a-z]{2}(?:-gov|-iso[a-z]?)?-(?:north|south|east|west|central|northeast|southeast"
    r"|northwest|southwest)-\d[a-z]?"  # an AWS region or zone, us-east-1a
    r"|/dev/[A-Za-z0-9_./-]+"  # a device file, /dev/stdout, /dev/log
)
# Characters that hide a name from a plain search: zero-width and joining characters.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u034f\u180e\u200b\u200c\u200d\u2060\ufeff"))
# The id AWS appends to a load balancer's or target group's ARN suffix
# (`targetgroup/web-blue-tg/73e2d6bc24d8a067`): generated per resource, like a physical name.
_GENERATED_ID = re.compile(r"\b((?:targetgroup|app|net|listener)/[^/\s]+/)[0-9a-f]{16}\b")
GENERATED_ID = "{id}"
# Names parity gives meaning to; an environment may not be called by them.
RESERVED_NAMES = frozenset({LIVE, IDLE, "blue", "green", "env", "id"})


def env_pattern(env_names: Iterable[str]) -> re.Pattern[str]:
    """Environment names as whole tokens, in any case: `prod` in `shipyard-prod` and `PROD_DB`,
    not in `production`; the longest name wins where two overlap (`prod-eu` is not `prod`)."""
    names = sorted(set(env_names), key=len, reverse=True)
    alternatives = "|".join(re.escape(name) for name in names)
    return re.compile(rf"(?<![A-Za-z0-9])(?:{alternatives})(?![A-Za-z0-9])", re.IGNORECASE)


@dataclass
class NormalisedStack:
    """One environment's stack, ready to compare."""

    env: str
    tree: dict[str, dict[str, Any]]
    leaves: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, str] = field(default_factory=dict)  # leaf path -> setting
    resource_settings: dict[str, str] = field(default_factory=dict)  # leaf path -> own setting
    resource_of: dict[str, str] = field(default_factory=dict)  # leaf path -> resource
    references: dict[str, list[str]] = field(default_factory=dict)  # leaf path -> other envs
    names: dict[str, str] = field(default_factory=dict)  # resource -> logical name as deployed
    types: dict[str, str] = field(default_factory=dict)
    roles: dict[str, dict[str, str]] = field(default_factory=dict)  # service -> color -> role


class Normaliser:
    """Normalises one environment's values: its own name, roles, lists, JSON, images.

    `roles` maps each service to {color: role}; `keep` are words kept whole however they are
    spelled (the stack's logical resource names and its services: `web-production` and
    `dev-portal` name no environment).
    """

    def __init__(
        self,
        env: str,
        env_names: Iterable[str],
        roles: Mapping[str, Mapping[str, str]] | None = None,
        keep: Iterable[str] = (),
    ) -> None:
        self.env = env
        self._named: dict[tuple[str, bool], frozenset[str]] = {}
        self.roles = dict(roles or {})
        every = sorted({*env_names, env}, key=len, reverse=True)
        names_only = env_pattern(every)
        # Only words that contain an environment's name need keeping whole.
        words = sorted(
            (w for w in {*keep, *self.roles} if names_only.search(w)), key=len, reverse=True
        )
        kept = "|".join([*(re.escape(w) for w in words), _NEVER_AN_ENVIRONMENT])
        names = names_only.pattern
        # A cheap first look: most strings hold no environment's name in any spelling.
        self._maybe = re.compile("|".join(re.escape(n) for n in {*env_names, env}), re.IGNORECASE)
        self.pattern = re.compile(
            rf"(?<![A-Za-z0-9])(?P<keep>{kept})(?![A-Za-z0-9])|(?P<env>{names})", re.IGNORECASE
        )
        # A name inside camelCase: `readFromStagingReplica`, `fromSTAGINGReplica`.
        camel = "|".join(
            re.escape(n[:1].upper() + n[1:]) + "|" + re.escape(n.upper()) for n in every
        )
        self._camel = re.compile(rf"(?<=[a-z0-9])(?P<env>{camel})(?![a-z0-9])")
        # A color inside the names the program builds for a service: right after the service
        # (`web-blue`, `prod-web-blue`, `web-blue-tg`), its alarms (`web-alarms-blue-5xx`) or a
        # description (`web blue:`), and followed only by one of the program's own suffixes,
        # so a user's `web-blue-assets` stays as written.
        suffixes = "|".join(
            re.escape(suffix) for suffix in sorted(_program_suffixes(keep), key=len, reverse=True)
        )
        tail = rf"(?=(?:{suffixes})?(?![A-Za-z0-9-]))" if suffixes else r"(?![A-Za-z0-9-])"
        self._colors = {
            service: re.compile(
                rf"(?<![A-Za-z0-9])({re.escape(service)}(?:-alarms)?[- ])({COLORS_RE}){tail}"
            )
            for service in self.roles
        }

    def value(
        self,
        value: Any,
        service: str | None = None,
        key: str = "",
        depth: int = 0,
        program_keys: bool = False,
    ) -> Any:
        """One value normalised; with `program_keys`, mapping keys are the program's own words
        (the outputs' `listenerArns.production`) and are kept as written."""
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, float):
            return int(value) if value.is_integer() else value
        if isinstance(value, str):
            # JSON is parsed where the program puts it: a resource's own input (container
            # definitions, policies); a JSON string inside a variable stays a string.
            parsed = json_in(value) if depth == 0 else None
            if parsed is not None:
                return self.value(parsed, service, key, depth + 1, program_keys)
            if key in COLOR_VALUE_KEYS:
                return self.color(value, service)
            text = self.text(value, service)
            return split_image(text) if key == "image" else text
        if isinstance(value, dict):
            if value.get("name") in COLOR_VARIABLES and isinstance(value.get("value"), str):
                value = {**value, "value": self.color(value["value"], service)}
            by_color = bool(value) and set(value) <= {"blue", "green"}
            return {
                self._key(str(k), service, by_color, program_keys): (
                    self.value(v, service, str(k), depth + 1, program_keys)
                )
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            items = [self.value(item, service, "", depth + 1, program_keys) for item in value]
            if key in ORDERED_LISTS:
                return {f"[{index}]": item for index, item in enumerate(items)}
            keyed = keyed_by_identity(items)
            return keyed if keyed is not None else items
        return value

    def _key(self, key: str, service: str | None, by_color: bool, program_keys: bool) -> str:
        if by_color:
            return self.color(key, service)
        return key if program_keys else self.text(key, service)

    def color(self, value: str, service: str | None) -> str:
        """A color written on its own, as its role in the service."""
        return self.roles.get(service or "", {}).get(value, value)

    def text(self, value: str, service: str | None = None) -> str:
        # A literal `{env}` in a value is not this environment's name.
        own = value.replace(ENV_TOKEN, "{" + ENV_TOKEN + "}")
        if self._maybe.search(own):
            # The program writes the name as it is (lowercase): `PROD` is not normalised.
            own = self.pattern.sub(
                lambda m: ENV_TOKEN if m["env"] == self.env else m.group(0),
                own,
            )
        colors = self._colors.get(service or "")
        if colors is not None:
            roles = self.roles[service or ""]
            own = colors.sub(lambda m: m.group(1) + roles[m.group(2)], own)
        return _GENERATED_ID.sub(rf"\g<1>{GENERATED_ID}", own)

    def others_named(self, value: str, key: bool = False) -> frozenset[str]:
        """The other environments a value names, however it spells them: any case, camelCase
        (`readFromStagingReplica`), percent-encoded, full-width, with zero-width characters.
        A key (a variable's or a tag's name) counts only as written, whole: `prod-owner`, not
        `DISABLE_DEV_TOOLS` or `testPort`. Remembered: every leaf repeats its path's keys."""
        found = self._named.get((value, key))
        if found is None:
            found = self._named[(value, key)] = frozenset(self._others_named(value, key))
        return found

    def _others_named(self, value: str, key: bool) -> set[str]:
        text = value if value.isascii() else unicodedata.normalize("NFKC", value)
        text = text.translate(_INVISIBLE)
        for _ in range(3):  # %2573 is %73 is s
            if "%" not in text:
                break
            text = urllib.parse.unquote(text)
        if not self._maybe.search(text):
            return set()
        found = set()
        for match in self.pattern.finditer(text):
            name = match["env"] or ""
            if name and (name == name.lower() or not key) and name.lower() != self.env:
                found.add(name.lower())
        if not key:
            found |= {m["env"].lower() for m in self._camel.finditer(text)} - {self.env}
        return found


def _program_suffixes(logical_names: Iterable[str]) -> set[str]:
    """What the program appends after a color in its logical names (`-tg`, `-task`, `-5xx`)."""
    found = set()
    for name in logical_names:
        match = re.search(rf"-(?:{COLORS_RE})(-[A-Za-z0-9-]+)$", name)
        if match:
            found.add(match.group(1))
    return found


def split_image(image: str) -> Any:
    """`registry/repo:tag@sha256:...` as {repository, tag, digest} (the parts it has), read
    with shipyard.revision's rule, the one the program and the fleet build images by."""
    parts: dict[str, str] = {"repository": repository_of(image)}
    tag = tag_of(image)
    if tag is not None:
        parts["tag"] = tag
    _, at, digest = image.partition("@")
    if at:
        parts["digest"] = digest
    return parts


def keyed_by_identity(items: list[Any]) -> dict[str, Any] | None:
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    for field_name in IDENTITY_FIELDS:
        names = [item.get(field_name) for item in items]
        if all(isinstance(n, str) for n in names) and len(set(names)) == len(names):
            return {
                f"[{field_name}={item[field_name]}]": {
                    k: v for k, v in item.items() if k != field_name
                }
                for item in items
            }
    return None


def normalise_stack(
    stack: RenderedStack,
    env_names: Iterable[str],
    loaded: LoadedStack | None = None,
) -> NormalisedStack:
    """One environment's rendered stack (and, when given, its stack config) as a tree and its
    leaves. `env_names` are every environment a value might name."""
    env = stack.stack
    roles = _roles(loaded)
    parents = {r["name"]: r["parent"] for r in stack.resources}
    norm = Normaliser(env, env_names, roles, keep=parents)
    result = NormalisedStack(env=env, tree={}, roles=roles)
    for resource in stack.resources:
        name = resource["name"]
        service = _service_of(name, parents, roles)
        key = norm.text(name, service)
        parent = resource["parent"]
        shown_parent = norm.text(parent, service) if parent else None
        node = {
            RESOURCE_KEY: resource["type"] + (f" (parent {shown_parent})" if shown_parent else "")
        }
        # Each input at depth 0: its JSON (container definitions, a policy) is parsed.
        node.update({str(k): norm.value(v, service, str(k)) for k, v in resource["inputs"].items()})
        result.tree[key] = node
        result.names[key] = name
        result.types[key] = resource["type"]
    if loaded is not None:
        result.tree[STACK_CONFIG] = _config_tree(loaded, norm)
        result.names[STACK_CONFIG] = STACK_CONFIG
        result.types[STACK_CONFIG] = "shipyard:stack:Config"
    outputs = _outputs_tree(stack.outputs, norm)
    if outputs:
        result.tree[STACK_OUTPUTS] = outputs
        result.names[STACK_OUTPUTS] = STACK_OUTPUTS
        result.types[STACK_OUTPUTS] = "pulumi:pulumi:Stack"
    for resource_key, node in result.tree.items():
        pseudo = resource_key in PSEUDO_RESOURCES
        for prop, value in node.items():
            flatten(value, resource_key, [prop], pseudo, norm, result)
    if loaded is not None:
        configured = set().union(*(norm.others_named(v) for v in strings(loaded.overlay)))
        _only_configured_references(result, configured)
    return result


def _only_configured_references(stack: NormalisedStack, configured: set[str]) -> None:
    """Another environment reaches a stack only through that environment's own file,
    stacks/<env>.yaml: the program and the template are the same for every environment
    (`production and test listeners`, a team address `qa-team@...` in the template name no
    environment). So a value names another environment only when that file names it too."""
    for path in list(stack.references):
        kept = [name for name in stack.references[path] if name in configured]
        if kept:
            stack.references[path] = kept
        else:
            del stack.references[path]


def _roles(loaded: LoadedStack | None) -> dict[str, dict[str, str]]:
    if loaded is None:
        return {}
    return {
        service.name: {
            service.active_color.value: LIVE,
            service.active_color.other.value: IDLE,
        }
        for service in loaded.config.services
    }


def _service_of(
    name: str, parents: Mapping[str, str | None], roles: Mapping[str, Any]
) -> str | None:
    """The service whose component this resource is, or is under (its parent chain)."""
    seen: set[str] = set()
    here: str | None = name
    while here is not None and here not in seen:
        if here in roles:
            return here
        seen.add(here)
        here = parents.get(here)
    return None


def _config_tree(loaded: LoadedStack, norm: Normaliser) -> dict[str, Any]:
    config = loaded.config.model_dump(mode="json", by_alias=True, exclude_none=True)
    config.pop("environment", None)
    pulumi_config = config.pop("pulumiConfig", None)
    tree: dict[str, Any] = {}
    for key, value in config.items():
        if key == "services" and isinstance(value, list):
            tree[key] = {
                f"[name={service['name']}]": norm.value(
                    _as_container(service), service["name"], depth=1
                )
                for service in value
            }
        else:
            tree[key] = norm.value(value, None, key, depth=1)
    if pulumi_config:
        # Verbatim Pulumi values: encrypted ones compare by presence, like every secret.
        tree["pulumiConfig"] = {
            key: SECURE if isinstance(v, dict) and "secure" in v else norm.value(v, depth=1)
            for key, v in pulumi_config.items()
        }
    return tree


def _as_container(service: dict[str, Any]) -> dict[str, Any]:
    """A service's config with its environment and secrets shaped as the container definition
    holds them (`environment[name=LOG_LEVEL].value`), so one rule covers the variable both where
    it is set and where it lands."""
    shaped = {k: v for k, v in service.items() if k != "name"}
    shaped["environment"] = [
        {"name": k, "value": v} for k, v in (service.get("environment") or {}).items()
    ]
    shaped["secrets"] = [
        {"name": k, "valueFrom": v} for k, v in (service.get("secrets") or {}).items()
    ]
    return shaped


def _outputs_tree(outputs: Mapping[str, Any], norm: Normaliser) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for key, value in outputs.items():
        if key == "services" and isinstance(value, dict):
            tree[key] = {
                service: norm.value(entry, service, depth=1, program_keys=True)
                for service, entry in value.items()
            }
        else:
            tree[key] = norm.value(value, depth=1, program_keys=True)
    return tree
