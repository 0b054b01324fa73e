"""Render a stack's full resource graph in-process, under Pulumi mocks: no CLI, no cloud.

Per stack: reset the runtime's options (forget the previous root stack), set mocks with the
project and stack names, hand the program its config the way the engine would (strings, secret
keys apart), run it and wait for every registration. Several stacks render in one process.
"""

from __future__ import annotations

import contextlib
import gc
import json
import runpy
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import resource as sdk_resource
from pulumi.runtime import rpc, settings
from pulumi.runtime.proto import source_pb2
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from parity.mocks import AwsMocks, RecordingMonitor
from shipyard.config.documents import parse_yaml, read_document
from shipyard.config.load import StackSources
from shipyard.config.plain_secrets import mask_secrets
from shipyard.config.pulumi_config import REGION_KEY, flatten_for_engine, validate_pulumi_values
from shipyard.errors import ConfigError, UsageError

PROJECT = "shipyard"
SECRET = "[secret]"
Program = Callable[[], None]


@dataclass(frozen=True)
class RenderedStack:
    """Every resource the program registered, with its inputs, and the stack's outputs."""

    project: str
    stack: str
    resources: list[dict[str, Any]]
    outputs: dict[str, Any]
    # Logical name -> the logical names it waits for (not printed: order, not configuration).
    depends_on: dict[str, list[str]] = field(default_factory=dict)
    # Logical name -> the inputs `pulumi up` sets only at creation (camelCase, as the engine
    # sees them), for resources that have any.
    ignore_changes: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The stack as printed: anything secret-shaped in an input or output is masked."""
        return dict(
            mask_secrets(
                {
                    "project": self.project,
                    "stack": self.stack,
                    "resources": self.resources,
                    "outputs": self.outputs,
                }
            )
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=True, width=100)

    def find(self, type_: str, name: str) -> dict[str, Any]:
        """The resource of this type and logical name; KeyError naming both when absent."""
        for resource in self.resources:
            if resource["type"] == type_ and resource["name"] == name:
                return resource
        raise KeyError(f"{type_} {name!r} not in stack {self.stack}")

    def of_type(self, type_: str) -> list[dict[str, Any]]:
        return [r for r in self.resources if r["type"] == type_]


def render_stack(sources: StackSources, env: str, program: Program | None = None) -> RenderedStack:
    """Render one environment from its Pulumi.<env>.yaml, as `pulumi up -s ENV` would see it."""
    sources.require_environment(env)
    values = stack_config_values(sources, env)
    # Fail here, with the file and key, rather than as a traceback from inside the program.
    validate_pulumi_values(values, sources.rel(sources.pulumi_stack_file(env)))
    config, secret_keys = flatten_for_engine(values)
    region = str(values.get(REGION_KEY, "us-east-1"))
    return render_program(
        program or project_program(sources.root),
        stack=env,
        config=config,
        secret_keys=secret_keys,
        region=region,
    )


def project_program(root: Path) -> Program:
    """The project's real Pulumi entry point, `__main__.py`, as a callable."""
    entry = root / "__main__.py"
    if not entry.is_file():
        raise UsageError(f"{entry}: not found; run shipyard from the project directory")

    def program() -> None:
        runpy.run_path(str(entry), run_name="__main__")

    return program


def stack_config_values(sources: StackSources, env: str) -> dict[str, Any]:
    """Pulumi.yaml's project config defaults, overridden by Pulumi.<env>.yaml's `config:`."""
    stack_file = sources.pulumi_stack_file(env)
    name = sources.rel(stack_file)
    if not stack_file.is_file():
        raise UsageError(f"{name}: not found; run `shipyard stacks render` to write it")
    values = _project_defaults(sources.root / "Pulumi.yaml")
    try:
        stack_doc = parse_yaml(read_document(stack_file, name), name) or {}
    except ConfigError as exc:
        raise ConfigError(
            exc.file, exc.path, f"{exc.problem}; regenerate it with `shipyard stacks render`"
        ) from None
    if not isinstance(stack_doc, dict) or not isinstance(stack_doc.get("config", {}), dict):
        raise UsageError(f"{name}: expected a mapping with a `config:` mapping")
    values.update(stack_doc.get("config") or {})
    return values


def _project_defaults(project_file: Path) -> dict[str, Any]:
    if not project_file.is_file():
        return {}
    doc = parse_yaml(read_document(project_file, project_file.name), project_file.name) or {}
    if not isinstance(doc, dict):
        raise ConfigError(project_file.name, "", "must be a mapping (name, runtime, config)")
    defaults: dict[str, Any] = {}
    for key, spec in (doc.get("config") or {}).items():
        full_key = key if ":" in key else f"{doc.get('name', PROJECT)}:{key}"
        if isinstance(spec, dict) and "value" in spec:
            defaults[full_key] = spec["value"]
        elif isinstance(spec, dict) and "default" in spec:
            defaults[full_key] = spec["default"]
        elif not isinstance(spec, dict):
            defaults[full_key] = spec
    return defaults


def render_program(
    program: Program,
    *,
    stack: str,
    config: Mapping[str, str],
    secret_keys: list[str],
    region: str,
    project: str = PROJECT,
) -> RenderedStack:
    """Run any Pulumi program under mocks and return what it registered."""
    mocks = AwsMocks(region)
    monitor = RecordingMonitor(mocks)
    settings.reset_options()
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=monitor)
    pulumi.runtime.set_all_config(dict(config), secret_keys)
    with _without_source_positions(), _collector_paused():
        _sync_await(run_pulumi_func(program))
        outputs = _stack_outputs()
    names = {_urn_of(monitor, key): key[1] for key in monitor.parents}
    resources = []
    for key, registration in mocks.registrations.items():
        parent_urn = monitor.parents.get(key, "")
        resources.append(
            {
                "type": registration.type,
                "name": registration.name,
                "parent": names.get(parent_urn),
                "inputs": clean(registration.inputs),
            }
        )
    resources.sort(key=lambda r: (r["type"], r["name"]))
    depends_on = {
        key[1]: sorted({names[urn] for urn in urns if urn in names})
        for key, urns in monitor.dependencies.items()
    }
    ignore_changes = {key[1]: sorted(names) for key, names in monitor.ignored.items() if names}
    return RenderedStack(
        project=project,
        stack=stack,
        resources=resources,
        outputs=outputs,
        depends_on=depends_on,
        ignore_changes=ignore_changes,
    )


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a stack renders.

    A render allocates hundreds of thousands of short-lived objects (outputs, futures, protobuf
    messages); with the collector running, its passes over the growing heap were about 60% of
    render time. Reference counting frees most of them at once; the few cycles wait for the
    collector's next ordinary pass (peak memory was the same either way: benchmarks/render.py).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextlib.contextmanager
def _without_source_positions() -> Iterator[None]:
    """Skip the SDK's per-registration walk of the Python stack.

    It only feeds source positions to the engine, which mocks discard, and it is about a fifth
    of render time. Restored on exit; a no-op if a future SDK renames it.
    """
    original = getattr(sdk_resource, "_get_stack_trace", None)
    if original is None:
        yield
        return
    sdk_resource._get_stack_trace = source_pb2.StackTrace
    try:
        yield
    finally:
        sdk_resource._get_stack_trace = original


def _urn_of(monitor: RecordingMonitor, key: tuple[str, str]) -> str:
    return str(monitor.make_urn(monitor.parents[key], key[0], key[1]))


def _stack_outputs() -> dict[str, Any]:
    root = settings.get_root_resource()
    exported: dict[str, Any] = getattr(root, "outputs", None) or {}
    resolved: dict[str, Any] = {}
    for name, value in exported.items():
        output = pulumi.Output.from_input(value)
        is_secret = _sync_await(output.is_secret())
        data = _sync_await(output.future())
        resolved[name] = SECRET if is_secret else clean(data)
    return dict(sorted(resolved.items()))


def clean(value: Any) -> Any:
    """Wire-form inputs made stable: secrets masked, whole floats as ints, keys sorted."""
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return SECRET
        return {key: clean(value[key]) for key in sorted(value)}
    if isinstance(value, list | tuple):
        return [clean(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
