"""`shipyard metrics`: DORA metrics from the ledger."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import jinja2

from rollout.ledger import require_verified
from rollout.metrics import Metrics, compute
from rollout.pulumi_history import events_from_history, load_history
from shipyard.cli.common import format_option, project_root
from shipyard.cli.deploy_cmd import _ledger, ledger_option
from shipyard.cli.output import stdout, write_output


def metric_rows(m: Metrics) -> list[dict[str, Any]]:
    def hours(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.2f} h"

    def share(value: float | None) -> str:
        return "n/a" if value is None else f"{100 * value:.1f}%"

    return [
        {
            "key": "per_day",
            "name": "deployment frequency",
            "value": f"{m.per_day:.2f}/day, {m.deploy_days_per_week:.2f} deploy-days/week",
            "level": m.levels.get("deployment_frequency", "n/a"),
        },
        {
            "key": "lead_time",
            "name": "lead time for changes (p50 / p90)",
            "value": f"{hours(m.lead_time_p50_hours)} / {hours(m.lead_time_p90_hours)}",
            "level": m.levels.get("lead_time", "n/a"),
        },
        {
            "key": "change_failure_rate",
            "name": "change failure rate",
            "value": share(m.change_failure_rate),
            "level": m.levels.get("change_failure_rate", "n/a"),
        },
        {
            "key": "time_to_restore",
            "name": "time to restore (p50)",
            "value": "n/a" if m.restore_p50_minutes is None else f"{m.restore_p50_minutes:.1f} min",
            "level": m.levels.get("time_to_restore", "n/a"),
        },
        {
            "key": "success_rate",
            "name": "deployment success rate",
            "value": share(m.success_rate),
            "level": "",
        },
        {
            "key": "time_to_deploy",
            "name": "mean time to deploy (approval wait apart)",
            "value": (
                "n/a"
                if m.mean_time_to_deploy_seconds is None
                else f"{m.mean_time_to_deploy_seconds:.1f} s"
            )
            + (
                ""
                if m.approval_wait_p50_hours is None
                else f" (approval wait p50 {m.approval_wait_p50_hours:.2f} h)"
            ),
            "level": "",
        },
    ]


def render_html(m: Metrics) -> str:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("rollout", "templates"),
        autoescape=True,  # select_autoescape(["html"]) would not match metrics.html.j2
    )
    return environment.get_template("metrics.html.j2").render(m=m, rows=metric_rows(m))


def render_json(m: Metrics) -> str:
    return json.dumps(m.to_dict(), indent=2, sort_keys=True) + "\n"


def render_markdown(m: Metrics) -> str:
    lines = [
        f"## Delivery metrics ({m.since[:10]} to {m.until[:10]})",
        "",
        f"{m.deploys} deploys, {m.succeeded} succeeded, {m.failed} needed intervention. "
        f"Levels: DORA {m.year} report.",
        "",
        "| metric | value | level |",
        "|---|---|---|",
    ]
    lines += [f"| {r['name']} | {r['value']} | {r['level']} |" for r in metric_rows(m)]
    return "\n".join(lines) + "\n"


@click.command("metrics")
@click.option(
    "--env",
    "envs",
    multiple=True,
    metavar="ENV",
    help="Only these environments (repeatable). Default: all.",
)
@click.option("--service", metavar="S", help="Only this service.")
@click.option(
    "--since",
    "since_days",
    type=click.FloatRange(min=0.001),
    default=30,
    show_default=True,
    help="Window, in days back from now.",
)
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write here.")
@click.option(
    "--fix-within",
    "fix_within",
    type=click.FloatRange(min=0),
    metavar="HOURS",
    help="Also count a deploy as failed when another deploy of the same service "
    "followed it within HOURS (a fix). Default: off.",
)
@click.option(
    "--from-pulumi-history",
    "history_file",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Read `pulumi stack history --json` output instead of the "
    "ledger (one stack: name it with --env, default the file's name).",
)
@ledger_option
@format_option("text", "json", "markdown", "html")
@click.pass_context
def metrics_command(
    ctx: click.Context,
    envs: tuple[str, ...],
    service: str | None,
    since_days: float,
    output: str | None,
    fix_within: float | None,
    history_file: str | None,
    ledger_path: str | None,
    output_format: str,
) -> None:
    """DORA metrics computed only from the ledger: what actually happened.

    Deployment frequency, lead time (p50/p90), change failure rate, time to restore (p50),
    success rate and mean time to deploy, each with its level from the DORA 2024 report.
    Definitions: docs/delivery.md. A ledger that fails `shipyard ledger verify` is
    refused (exit 1): its figures could be anyone's.
    """
    if history_file:
        stack = envs[0] if envs else Path(history_file).stem
        events = events_from_history(load_history(Path(history_file)), stack)
    else:
        sources, ledger = _ledger(ctx, ledger_path, reading=True)
        for env in envs:
            sources.require_environment(env)
        require_verified(ledger)  # figures from an edited or cut history would mislead
        events = ledger.events()
    m = compute(
        events,
        environments=list(envs) or None,
        service=service,
        since_days=since_days,
        fix_within_hours=fix_within,
    )
    renderers = {"json": render_json, "html": render_html, "markdown": render_markdown}
    if output_format in renderers:
        text = renderers[output_format](m)
        if output:
            write_output(output, text, project_root(ctx))
        else:
            click.echo(text, nl=False)
        return
    out = stdout()
    out.print(
        f"{m.deploys} deploys ({m.succeeded} succeeded, {m.failed} needed intervention) "
        f"{m.since[:10]} to {m.until[:10]}; levels from the DORA {m.year} report",
        markup=False,
    )
    for row in metric_rows(m):
        level = f" [{row['level']}]" if row["level"] else ""
        out.print(f"  {row['name']}: {row['value']}{level}", markup=False)
