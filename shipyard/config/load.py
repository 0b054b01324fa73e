"""Load an environment's stack config: template + overlay -> merged document -> StackConfig.

`stacks/template.yaml.j2` is rendered with Jinja2 (`{{ env }}` is the environment name) into the
shared document; `stacks/<env>.yaml` holds only what differs and is merged over it: mappings merge
key by key, `services` merge by `name`, other lists and scalars replace, and `null` removes a key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from pydantic import ValidationError

from shipyard.config.documents import load_mapping, parse_mapping, unshared
from shipyard.config.errors import explain_validation_error
from shipyard.config.model import StackConfig
from shipyard.config.template import MAX_OUTPUT, BoundedSandbox, TemplateTooLarge
from shipyard.errors import ConfigError, UsageError

TEMPLATE = "template.yaml.j2"
# stacks/<name>.yaml files that are not environments, and what each holds instead.
NOT_ENVIRONMENTS = {"parity": "the parity rules"}
PROMOTION_ORDER = ("dev", "staging", "prod")
KEYED_LISTS = {"services": "name"}


@dataclass(frozen=True)
class StackSources:
    """Where a project's stack files live."""

    root: Path

    @property
    def stacks_dir(self) -> Path:
        return self.root / "stacks"

    @property
    def template(self) -> Path:
        return self.stacks_dir / TEMPLATE

    def overlay(self, env: str) -> Path:
        return self.stacks_dir / f"{env}.yaml"

    def pulumi_stack_file(self, env: str) -> Path:
        return self.root / f"Pulumi.{env}.yaml"

    def rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    def environments(self) -> list[str]:
        """Environments are the `stacks/*.yaml` files (not parity rules): dev, staging, prod
        first, in promotion order, then any others by name."""
        found = {p.stem for p in self.stacks_dir.glob("*.yaml") if p.stem not in NOT_ENVIRONMENTS}
        known = [env for env in PROMOTION_ORDER if env in found]
        return known + sorted(found - set(known))

    def require_environment(self, env: str) -> None:
        known = self.environments()
        listed = ", ".join(known) or "none"
        if env in NOT_ENVIRONMENTS:
            raise UsageError(
                f"{env!r} is not an environment: {self.rel(self.overlay(env))} holds "
                f"{NOT_ENVIRONMENTS[env]}; name an environment ({listed})"
            )
        if env not in known:
            raise UsageError(
                f"unknown environment {env!r}: no {self.rel(self.overlay(env))} "
                f"(environments: {listed})"
            )


@dataclass(frozen=True)
class LoadedStack:
    """A validated stack config with the two documents it came from (for provenance)."""

    env: str
    config: StackConfig
    base: dict[str, Any]
    overlay: dict[str, Any]
    merged: dict[str, Any]


def load_stack(sources: StackSources, env: str) -> LoadedStack:
    """Render, merge and validate one environment; raise ConfigError naming file and path."""
    sources.require_environment(env)
    base = render_template(sources, env)
    overlay_file = sources.rel(sources.overlay(env))
    overlay = load_mapping(sources.overlay(env), overlay_file)
    merged = merge(base, overlay, overlay_file)
    merged.setdefault("environment", env)
    if merged["environment"] != env:
        raise ConfigError(
            overlay_file if "environment" in overlay else sources.rel(sources.template),
            "environment",
            f"is {merged['environment']!r} but the file is for {env!r}; remove the key or fix it",
        )
    try:
        config = StackConfig.model_validate(merged)
    except ValidationError as exc:
        raise explain_validation_error(
            exc,
            overlay=(overlay_file, overlay),
            base=(sources.rel(sources.template), base),
            merged=merged,
        ) from None
    return LoadedStack(env=env, config=config, base=base, overlay=overlay, merged=merged)


def render_template(sources: StackSources, env: str) -> dict[str, Any]:
    """The shared document for one environment, rendered in a sandbox (shipyard.config.template)
    and refused past MAX_OUTPUT."""
    name = sources.rel(sources.template)
    if not sources.template.is_file():
        raise UsageError(f"{name}: not found; every project needs the shared stack template")
    jinja = BoundedSandbox(
        loader=jinja2.FileSystemLoader(str(sources.stacks_dir)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    try:
        text = _render_bounded(jinja.get_template(TEMPLATE), env)
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(name, f"line {exc.lineno}", f"template syntax: {exc.message}") from None
    except jinja2.UndefinedError as exc:
        raise ConfigError(
            *_template_line(sources, exc),
            f"{exc.message}; the template can use only {{{{ env }}}}",
        ) from None
    except jinja2.TemplateNotFound as exc:
        raise ConfigError(
            *_template_line(sources, exc),
            f"includes {exc.name!r}, which is not in {sources.rel(sources.stacks_dir)}/; "
            "add the file or remove the include",
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            *_template_line(sources, exc), "a template file is not UTF-8 text; save it as UTF-8"
        ) from None
    except TemplateTooLarge as exc:
        raise ConfigError(*_template_line(sources, exc), str(exc)) from None
    except jinja2.exceptions.SecurityError as exc:
        raise ConfigError(
            *_template_line(sources, exc),
            f"{str(exc).rstrip('.')} in the template's sandbox; it may use {{{{ env }}}}, "
            "literals, operators and plain string methods (upper, lower, split, ...)",
        ) from None
    except Exception as exc:  # whatever evaluating the template raised: the template is wrong
        raise ConfigError(
            *_template_line(sources, exc),
            f"template evaluation failed: {type(exc).__name__}: {exc}; fix the expression",
        ) from None
    return parse_mapping(text, name)


def _render_bounded(template: jinja2.Template, env: str) -> str:
    """The rendered text, streamed, so a template that prints too much stops at MAX_OUTPUT."""
    parts: list[str] = []
    size = 0
    for part in template.generate(env=env):
        size += len(part)
        if size > MAX_OUTPUT:
            raise TemplateTooLarge(
                f"the template renders past {MAX_OUTPUT >> 20} MiB; a stack template renders "
                "a few KB: remove what repeats"
            )
        parts.append(part)
    return "".join(parts)


def _template_line(sources: StackSources, exc: BaseException) -> tuple[str, str]:
    """The template file and line an error was raised at: Jinja rewrites tracebacks so a
    template's frames carry its file name and line (jinja2.debug.rewrite_traceback_stack)."""
    file, line = sources.template, 0
    tb = exc.__traceback__
    stacks_dirs = (str(sources.stacks_dir.resolve()), str(sources.stacks_dir))
    while tb is not None:
        frame_file = tb.tb_frame.f_code.co_filename
        if frame_file.startswith(stacks_dirs):
            file, line = Path(frame_file), tb.tb_lineno
        tb = tb.tb_next
    return sources.rel(file), f"line {line}" if line else ""


def merge(base: dict[str, Any], overlay: dict[str, Any], overlay_name: str) -> dict[str, Any]:
    """Deep-merge overlay over base into a new document.

    Neither input changes, and the result shares no mapping or list with them or within itself
    (each is built afresh, see documents.unshared), so setting a key for one service can never
    set it for another that the template wrote with the same YAML anchor.
    """
    return _merge_map(base, overlay, overlay_name, "")


def _merge_map(
    base: dict[str, Any], overlay: dict[str, Any], name: str, path: str
) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for key in [*base, *(key for key in overlay if key not in base)]:
        if key not in overlay:
            merged[key] = unshared(base[key])
            continue
        value, under = overlay[key], base.get(key)
        where = f"{path}.{key}" if path else str(key)
        if value is None:
            continue  # null removes the key
        if key in KEYED_LISTS and isinstance(value, list) and isinstance(under, list):
            merged[key] = _merge_keyed(under, value, KEYED_LISTS[key], name, where)
        elif isinstance(value, dict) and isinstance(under, dict):
            merged[key] = _merge_map(under, value, name, where)
        else:
            merged[key] = unshared(value)
    return merged


def _merge_keyed(base: list[Any], overlay: list[Any], key: str, name: str, path: str) -> list[Any]:
    merged = [unshared(item) for item in base]
    for index, item in enumerate(overlay):
        if not isinstance(item, dict) or key not in item:
            raise ConfigError(
                name,
                f"{path}[{index}].{key}",
                f"is required: entries are matched to the template's {path} by {key}",
            )
        match = next(
            (i for i, b in enumerate(merged) if isinstance(b, dict) and b.get(key) == item[key]),
            None,
        )
        if match is None:
            merged.append(unshared(item))
        else:
            merged[match] = _merge_map(merged[match], item, name, f"{path}[{index}]")
    return merged
