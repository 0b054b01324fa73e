"""`shipyard demo`: the whole job, end to end, on this machine."""

from __future__ import annotations

import os
import time
from typing import Any

import click
from rich.table import Table

from parity.formats import RENDERERS
from parity.render import render_stack
from parity.run import ParityOptions, report_dict, run_parity
from rollout.demo import DemoRun, run_demo
from rollout.ledger import SqliteLedger
from shipyard.cli.common import format_option, short_lived_heap, sources_from
from shipyard.cli.output import emit_json, progress, stdout, working
from shipyard.cli.render_cmd import warn_if_stale
from shipyard.config.load import StackSources
from shipyard.errors import CheckFailed
from shipyard.summary import ServiceSummary, summarize


@click.command()
@click.option(
    "--no-local", is_flag=True, help="Only render the stacks and summarise them; start nothing."
)
@click.option(
    "--keep-running",
    is_flag=True,
    help="Leave the demo's dev up afterwards (stop it with `shipyard --project-dir "
    ".shipyard/demo local down dev`).",
)
@format_option("text", "json")
@click.pass_context
def demo(ctx: click.Context, no_local: bool, keep_running: bool, output_format: str) -> None:
    """The whole job on this machine, end to end, in about 25 seconds.

    \b
    In a scratch copy of the project (.shipyard/demo/; your files are not touched), under
    continuous load on dev's web service:
      1. bring dev up: HAProxy on 127.0.0.1, blue and green processes per service
      2. deploy v1, then v2: blue-green, smoke, 10/50/100% steps with analysis
      3. roll back to v1 by hand, instantly (the previous color is still warm)
      4. deploy v3, which answers 30% 5xx: analysis fails, it rolls back by itself
    then a table of the phases (duration, requests served and failed), the parity report of
    dev, staging and prod, and the ledger's history. Everything started is stopped at the
    end, also on Ctrl-C. Needs HAProxy and the project's examples/app/server.py (a checkout
    of shipyard); refuses APP_* fault knobs set in the shell (they go under a service's
    environment in stacks/<env>.yaml).
    """
    sources = sources_from(ctx)
    if no_local:
        rows, counts, elapsed = _render_all(sources)
        if output_format == "json":
            emit_json(
                {
                    "environments": [{"name": e, "resources": c} for e, c in counts.items()],
                    "seconds": round(elapsed, 3),
                    "services": [r.to_dict() for r in rows],
                }
            )
        else:
            _print_render_summary(rows, counts, elapsed)
        return
    run, workspace = run_demo(sources, progress, keep_running, os.environ)
    with working("scoring parity of dev, staging and prod..."), short_lived_heap():
        parity_report = report_dict(run_parity(sources, ParityOptions()))
    ledger = SqliteLedger(workspace.root / ".shipyard" / "ledger.db")
    history = [e.to_dict() for e in ledger.events()]
    if output_format == "json":
        emit_json(
            {
                "demo": run.to_dict(),
                "parity": {
                    k: parity_report[k]
                    for k in ("score", "raw_identity", "passed", "pairs", "failures")
                },
                "ledger": {"events": len(history), "chain_intact": ledger.verify() == []},
            }
        )
    else:
        _print_demo(run, parity_report, history)
    if run.total_failed and not any(p.outcome == "rolled-back" for p in run.phases):
        raise CheckFailed("requests failed during the demo's deploys")


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


def _print_render_summary(
    rows: list[ServiceSummary], counts: dict[str, int], elapsed: float
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


def _print_demo(run: DemoRun, parity_report: dict[str, Any], history: list[dict[str, Any]]) -> None:
    out = stdout()
    print_phases(run, "shipyard demo: dev on this machine, web under continuous load")
    out.print()
    out.print(RENDERERS["text"](parity_report, out.is_terminal), end="")
    out.print()
    out.print(f"ledger ({run.workspace}/.shipyard/ledger.db): {len(history)} events", markup=False)
    for event in history:
        if event["kind"] in ("release", "check-failed", "rollback-started", "outcome"):
            detail = event["data"].get("message") or event["data"].get("version") or ""
            out.print(
                f"  {event['seq']:>4} {event['at']} {event['kind']:<16} {detail}", markup=False
            )


def print_phases(run: DemoRun, title: str) -> None:
    """The demo's phases (duration, requests served and failed) and its figures."""
    out = stdout()
    table = Table(title=title)
    for header in ("phase", "seconds", "requests", "failed", "outcome"):
        table.add_column(header)
    for phase in run.phases:
        table.add_row(
            phase.name,
            f"{phase.seconds:.2f}",
            str(phase.requests),
            str(phase.failed),
            phase.outcome,
        )
    out.print(table)
    out.print(
        f"{run.total_requests} requests in all, {run.total_failed} failed "
        f"(only the faulty v3's own 5xx answers, before its automatic rollback); "
        f"instant rollback {run.instant_rollback_seconds or 0:.2f} s; v3 off traffic "
        f"{run.automatic_rollback_seconds or 0:.2f} s after its first 5xx.",
        markup=False,
    )
