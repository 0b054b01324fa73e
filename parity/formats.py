"""The parity report in five formats: text, json, markdown, html, junit.

Each renderer takes the report's JSON-shaped dict (`report_dict`), so every format says the same
thing, and each opens with the verdict: PASS or FAIL, the score and the minimum, the reasons it
fails, any catch-all rule, then the differences that need attention (undeclared or missing,
critical first), then the rest. Every value is escaped for its format (parity/safe_text.py): a
stack's value may hold `<script>`, control characters, pipes or backticks.

Secrets are masked twice: Pulumi secrets by the renderer, and anything secret-shaped
(a DB_PASSWORD value, a URL with user:password@, a key inside a JSON string) by `mask_report`,
once, where `report_dict` builds the report every format and docs/environments.md are given.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable

import jinja2
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from parity.formats_junit import render_junit
from parity.formats_markdown import render_markdown
from parity.report_view import (
    CATCH_ALL,
    NOT_MATCHING,
    Report,
    catch_all_rules,
    catch_all_text,
    cell_text,
    class_text,
    counts_text,
    cross_text,
    declared,
    md_cell,
    needs_attention,
    score_text,
    source_line,
    verdict_text,
)
from parity.safe_text import html_path, visible_report
from shipyard.config.plain_secrets import Masker, key_of_path


def mask_report(report: Report) -> Report:
    """The report with every secret-shaped value masked; a difference's values are judged with
    the variable its path ends in (`...environment[name=DB_PASSWORD].value`)."""
    masker = Masker()
    differences = [
        {
            **diff,
            "values": {
                env: masker.mask(value, key_of_path(diff["path"]))
                for env, value in diff["values"].items()
            },
        }
        for diff in report.get("differences", [])
    ]
    masked = masker.mask({**report, "differences": differences})
    return dict(masker.scrub(masked))


def render_json(report: Report, color: bool = False) -> str:
    return json.dumps(report, indent=2, sort_keys=True) + "\n"


def render_text(report: Report, color: bool = False) -> str:
    report = visible_report(report)
    envs = report["environments"]
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        force_terminal=color,
        no_color=not color,
        width=160,
        highlight=False,
        emoji=False,
    )
    style = "bold green" if report["passed"] else "bold red"
    console.print(f"[{style}]{escape(verdict_text(report))}[/] across {escape(', '.join(envs))}")
    for failure in report["failures"]:
        console.print(f"[red]fail: {escape(failure)}[/]")
    for rule in catch_all_rules(report):
        console.print(f"[bold yellow]{escape(catch_all_text(rule))}[/]")
    console.print(escape(counts_text(report)))
    attention = needs_attention(report)
    if attention:
        # One block per difference: the path whole on its own line, then the values, the
        # reason and the sources, each wrapping on its own (a table folds paths mid-word).
        critical = sum(1 for d in attention if d["critical"])
        console.print(
            f"needs attention: {len(attention)} undeclared or missing, {critical} critical"
        )
        for diff in attention:
            style = "bold red" if diff["critical"] else "bold"
            console.print(f"  [{style}]{escape(diff['path'])}[/]  {escape(class_text(diff))}")
            values = " | ".join(f"{env}: {cell_text(diff, env)}" for env in envs)
            console.print(f"    {escape(values)}")
            if diff.get("reason"):
                console.print(f"    why: {escape(diff['reason'])}")
            source = source_line(diff)
            if source:
                console.print(f"    source: {escape(source)}")
    else:
        console.print("nothing needs attention: every difference is declared")
    pairs = Table(title="pairs")
    for header in ("pair", "parity", "raw identity", "identical", "declared", "undeclared"):
        pairs.add_column(header)
    for pair in report["pairs"]:
        pairs.add_row(
            escape(" ~ ".join(pair["environments"])),
            score_text(pair["score"]),
            score_text(pair["raw_identity"]),
            str(pair["identical"]),
            str(pair["declared"]),
            str(pair["undeclared"]),
        )
    console.print(pairs)
    console.print(f"{len(declared(report))} declared differences (see --format html or json)")
    for rule in report["rules"]:
        if rule["state"] != "active":
            line = f"rule {rule['path']} ({rule['owner']}): {rule['state']}: {rule['detail']}"
            console.print(f"[yellow]{escape(line)}[/]")
    return buffer.getvalue()


def render_html(report: Report, color: bool = False) -> str:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("parity", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["score"] = score_text
    environment.filters["cell"] = cell_text
    environment.filters["source_line"] = source_line
    environment.filters["path"] = html_path
    environment.filters["cross"] = cross_text
    report = visible_report(report)
    return environment.get_template("parity.html.j2").render(
        report=report,
        verdict=verdict_text(report),
        attention=needs_attention(report),
        declared=declared(report),
        catch_all=[catch_all_text(rule) for rule in catch_all_rules(report)],
    )


RENDERERS: dict[str, Callable[[Report, bool], str]] = {
    "text": render_text,
    "json": render_json,
    "markdown": render_markdown,
    "html": render_html,
    "junit": render_junit,
}


__all__ = [
    "CATCH_ALL",
    "NOT_MATCHING",
    "RENDERERS",
    "Report",
    "cell_text",
    "mask_report",
    "md_cell",
    "render_html",
    "render_json",
    "render_junit",
    "render_markdown",
    "render_text",
    "score_text",
]
