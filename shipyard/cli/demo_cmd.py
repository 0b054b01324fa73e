"""`shipyard demo`: the whole job, end to end, on this machine."""

from __future__ import annotations

import time
from typing import Any

import click
from rich.table import Table

from parity.render import render_stack
from rollout.platforms.local.platform import local_down, local_status, local_up
from shipyard.cli.common import format_option, short_lived_heap, sources_from
from shipyard.cli.local_cmd import print_status
from shipyard.cli.output import emit_json, progress, stdout, working
from shipyard.cli.render_cmd import warn_if_stale
from shipyard.config.load import StackSources, load_stack
from shipyard.errors import CheckFailed
from shipyard.summary import ServiceSummary, summarize
from smoke import load_spec, run_smoke


@click.command()
@click.option(
    "--env",
    "local_env",
    default="dev",
    show_default=True,
    help="The environment to run on this machine after rendering.",
)
@click.option("--no-local", is_flag=True, help="Only render the stacks; start nothing.")
@click.option(
    "--keep-running",
    is_flag=True,
    help="Leave the local environment up (stop it with `shipyard local down ENV`).",
)
@format_option("text", "json")
@click.pass_context
def demo(
    ctx: click.Context, local_env: str, no_local: bool, keep_running: bool, output_format: str
) -> None:
    """The whole job on this machine: render every stack, then run one environment locally.

    \b
    1. For each environment in stacks/: run the real Pulumi program under mocks with its
       Pulumi.<env>.yaml and read back, from the rendered resources, each service's live
       color, listener weights, versions and task counts.
    2. Start --env (default dev) on this machine: HAProxy on 127.0.0.1 in front of each
       service's blue and green processes; smoke-test every production URL (the live
       version) and every test URL (the idle version); show the status; stop it again
       unless --keep-running.
    """
    sources = sources_from(ctx)
    if not no_local:
        sources.require_environment(local_env)
    rows, counts, elapsed = _render_all(sources)
    local = None if no_local else _run_locally(sources, local_env, keep_running)
    if output_format == "json":
        emit_json(
            {
                "environments": [
                    {"name": env, "resources": count} for env, count in counts.items()
                ],
                "seconds": round(elapsed, 3),
                "services": [row.to_dict() for row in rows],
                "local": local,
            }
        )
    else:
        _print_text(rows, counts, elapsed, local)
    if local is not None and not local["passed"]:
        raise CheckFailed(f"the local {local_env} environment failed its smoke checks")


def _render_all(sources: StackSources) -> tuple[list[ServiceSummary], dict[str, int], float]:
    rows: list[ServiceSummary] = []
    counts: dict[str, int] = {}
    started = time.perf_counter()
    for env in sources.environments():
        began = time.perf_counter()
        with working(f"rendering {env} under Pulumi mocks..."), short_lived_heap():
            rendered = render_stack(sources, env)
        warn_if_stale(sources, env)
        counts[env] = len(rendered.resources)
        rows.extend(summarize(rendered))
        progress(f"rendered {env}: {counts[env]} resources in {time.perf_counter() - began:.2f} s")
    return rows, counts, time.perf_counter() - started


def _run_locally(sources: StackSources, env: str, keep_running: bool) -> dict[str, Any]:
    config = load_stack(sources, env).config
    began = time.perf_counter()
    with working(f"starting {env} on this machine..."):
        local_up(sources, env)
    up_seconds = time.perf_counter() - began
    progress(f"{env} is up on 127.0.0.1 in {up_seconds:.2f} s")
    try:
        status = local_status(sources, env)
        spec = load_spec()
        checks = []
        for service in status["services"]:
            settings = config.service(service["name"])
            targets = (
                ("production", service["url"], settings.version_of(settings.active_color)),
                ("test", service["test_url"], settings.version_of(settings.idle_color)),
            )
            for role, url, version in targets:
                with working(f"smoke-testing {service['name']} {role}..."):
                    report = run_smoke(url, spec, expect_version=version, service=service["name"])
                checks.append(
                    {
                        "service": service["name"],
                        "target": role,
                        "url": url,
                        "expect_version": version,
                        "passed": report.passed,
                        "problems": [p for r in report.results for p in r.problems],
                    }
                )
    finally:
        if not keep_running:
            local_down(sources, env)
            progress(f"{env} stopped (use --keep-running to leave it up)")
    return {
        "environment": env,
        "up_seconds": round(up_seconds, 3),
        "status": status,
        "smoke": checks,
        "passed": all(c["passed"] for c in checks),
        "kept_running": keep_running,
    }


def _print_text(
    rows: list[ServiceSummary],
    counts: dict[str, int],
    elapsed: float,
    local: dict[str, Any] | None,
) -> None:
    out = stdout()
    table = Table(title="shipyard: what each environment deploys (rendered under Pulumi mocks)")
    headers = (
        "env",
        "service",
        "live",
        "weights b/g",
        "versions b/g",
        "tasks b/g",
        "test ->",
        "listener",
    )
    for header in headers:
        table.add_column(header)
    for row in rows:
        table.add_row(
            row.environment,
            row.service,
            row.active_color,
            f"{row.weights['blue']}/{row.weights['green']}",
            f"{row.versions['blue']}/{row.versions['green']}",
            f"{row.desired_counts['blue']}/{row.desired_counts['green']}",
            row.test_listener_color,
            row.protocol,
        )
    out.print(table)
    total = sum(counts.values())
    out.print(
        f"{len(counts)} stacks, {total} resources rendered in {elapsed:.2f} s; "
        "no Pulumi CLI and no cloud account used.",
        markup=False,
    )
    if local is None:
        return
    out.print()
    print_status(local["status"])
    for check in local["smoke"]:
        verdict = "pass" if check["passed"] else "FAIL"
        out.print(
            f"smoke {verdict}: {check['service']} {check['target']} {check['url']} "
            f"(expects {check['expect_version']})",
            markup=False,
        )
        for problem in check["problems"]:
            out.print(f"    {problem}", markup=False)
