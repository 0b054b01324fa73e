"""`shipyard local up|down|status ENV`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from rollout.ledger import DEFAULT_PATH, Ledger, open_ledger
from rollout.platforms.local.platform import local_down, local_up
from rollout.platforms.local.status import local_status
from shipyard.cli.common import format_option, sources_from
from shipyard.cli.deploy_cmd import ledger_option
from shipyard.cli.output import emit_json, progress, stdout, working
from shipyard.config.load import StackSources, load_stack
from shipyard.errors import UsageError


@click.group()
def local() -> None:
    """Run an environment on this machine: HAProxy in front of app processes on 127.0.0.1.

    For each service in the environment's stack config: a production frontend, a test
    frontend that reaches the idle color, and desiredCount processes per color, with HAProxy
    health checks from the config. State lives in .shipyard/local/ENV/.
    """


@local.command("up")
@click.argument("env")
@ledger_option
@format_option("text", "json")
@click.pass_context
def up(ctx: click.Context, env: str, ledger_path: str | None, output_format: str) -> None:
    """Start ENV locally (again: nothing is doubled), then show its status.

    Each service starts as the ledger records it live (the color and versions its last
    rollouts left), else as its stack file declares it. Two `up` or `down` of one
    environment never run at once: the second waits for the first.
    """
    sources = sources_from(ctx)
    sources.require_environment(env)
    ledger = recorded_ledger(sources, env, ledger_path)
    began = time.perf_counter()
    with working(f"starting {env} locally..."):
        result = local_up(sources, env, ledger)
    verb = "started" if result.started else "already running"
    progress(f"{env}: {verb} in {time.perf_counter() - began:.2f} s")
    show_status(local_status(sources, env), output_format)


def recorded_ledger(sources: StackSources, env: str, location: str | None) -> Ledger | None:
    """The ledger `local up` restores from: --ledger, else the stack config's, else
    .shipyard/ledger.db; None when there is none yet (reading never creates one)."""
    location = location or load_stack(sources, env).config.ledger
    if not (location or "").startswith("s3://"):
        path = Path(location) if location else sources.root / DEFAULT_PATH
        if not path.is_file():
            return None
    return open_ledger(sources.root, location)


@local.command("down")
@click.argument("env")
@click.pass_context
def down(ctx: click.Context, env: str) -> None:
    """Stop exactly the processes `local up` started for ENV (safe to repeat).

    Exit 1 when everything stopped but its state could not be removed (a read-only
    .shipyard): the message says how to fix it.
    """
    sources = sources_from(ctx)
    sources.require_environment(env)
    state = local_down(sources, env)
    progress(f"{env}: stopped" if state else f"{env}: nothing running")


@local.command("traffic")
@click.argument("env")
@click.option(
    "--seconds",
    type=click.FloatRange(1, 3600),
    default=1800,
    show_default=True,
    help="Stop by itself after this long.",
)
@click.option(
    "--rate",
    type=click.FloatRange(0.1, 200),
    default=20,
    show_default=True,
    help="Requests per second, spread over the services.",
)
@click.option("--stop", "stop_it", is_flag=True, help="Stop the traffic now.")
@click.pass_context
def traffic(ctx: click.Context, env: str, seconds: float, rate: float, stop_it: bool) -> None:
    """Send steady background requests to ENV's local services, as users would.

    A rollout analyses each traffic step only with enough requests (analysis.minRequests);
    with nobody using the local services it would stay inconclusive and pause. This starts
    one process in the background that requests every service's production URL on
    127.0.0.1 at --rate, and stops by itself after --seconds (or at `local down`).

    \b
    Examples:
      shipyard local traffic dev
      shipyard local traffic dev --rate 50 --seconds 300
      shipyard local traffic dev --stop
    """
    from rollout.platforms.local.state import LocalState
    from rollout.platforms.local.traffic import start_traffic, stop_traffic

    sources = sources_from(ctx)
    sources.require_environment(env)
    state = LocalState.load(sources.root, env)
    if state is None:
        raise UsageError(f"{env} is not running locally: start it with `shipyard local up {env}`")
    if stop_it:
        progress(f"{env}: traffic stopped" if stop_traffic(state) else f"{env}: no traffic")
        return
    record = start_traffic(state, seconds, rate)
    progress(
        f"{env}: {rate:g} requests/s to {len(state.services)} service(s) for {seconds:g} s "
        f"(pid {record['pid']}; `shipyard local traffic {env} --stop` ends it)"
    )


@local.command("status")
@click.argument("env")
@format_option("text", "json")
@click.pass_context
def status(ctx: click.Context, env: str, output_format: str) -> None:
    """URLs, live color, weights, versions and health of ENV's local services."""
    sources = sources_from(ctx)
    sources.require_environment(env)
    show_status(local_status(sources, env), output_format)


def show_status(report: dict[str, Any], output_format: str) -> None:
    if output_format == "json":
        emit_json(report)
    else:
        print_status(report)


def print_status(report: dict[str, Any]) -> None:
    """The local status as a table."""
    out = stdout()
    if not report["running"]:
        out.print(
            f"{report['environment']}: not running (shipyard local up {report['environment']})"
        )
        return
    table = Table(title=f"{report['environment']} on this machine")
    for header in ("service", "url", "test url", "live", "weights b/g", "versions b/g"):
        table.add_column(header, no_wrap=True)
    table.add_column("servers (HAProxy)", overflow="fold")
    for service in report["services"]:
        weights, versions = service["weights"], service["versions"]
        servers = " ".join(f"{h['server']}:{h['haproxy']}" for h in service["health"])
        table.add_row(
            service["name"],
            service["url"],
            service["test_url"],
            service["active_color"],
            f"{weights['blue']}/{weights['green']}",
            f"{versions['blue']}/{versions['green']}",
            servers,
        )
    out.print(table)
