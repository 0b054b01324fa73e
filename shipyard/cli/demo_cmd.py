"""`shipyard demo`: the whole job, end to end, on this machine."""

from __future__ import annotations

import time

import click
from rich.table import Table

from parity.render import render_stack
from shipyard.cli.common import format_option, short_lived_heap, sources_from
from shipyard.cli.output import emit_json, progress, stdout, working
from shipyard.cli.render_cmd import warn_if_stale
from shipyard.summary import ServiceSummary, summarize


@click.command()
@format_option("text", "json")
@click.pass_context
def demo(ctx: click.Context, output_format: str) -> None:
    """Render every environment's stack offline and summarise what each would deploy.

    For each environment in stacks/: run the real Pulumi program under mocks with that
    environment's Pulumi.<env>.yaml, then read back from the rendered resources the
    services, the color taking traffic, listener weights, versions and task counts.
    """
    sources = sources_from(ctx)
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
    elapsed = time.perf_counter() - started
    if output_format == "json":
        emit_json(
            {
                "environments": [
                    {"name": env, "resources": count} for env, count in counts.items()
                ],
                "seconds": round(elapsed, 3),
                "services": [row.to_dict() for row in rows],
            }
        )
        return
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
    out = stdout()
    out.print(table)
    total = sum(counts.values())
    out.print(
        f"{len(counts)} stacks, {total} resources rendered in {elapsed:.2f} s; "
        "no Pulumi CLI and no cloud account used.",
        markup=False,
    )
