"""The parity report in five formats: text, json, markdown, html, junit.

Each renderer takes the report's JSON-shaped dict (`report_dict`), so every format says the same
thing. Secrets are masked twice: Pulumi secrets by the renderer, and anything secret-shaped
(a DB_PASSWORD value, a URL with user:password@, a key inside a JSON string) by `mask_report`,
once, where `report_dict` builds the report every format and docs/environments.md are given.
"""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import jinja2
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from shipyard.config.plain_secrets import Masker, key_of_path

Report = dict[str, Any]
NOT_MATCHING = ("undeclared", "missing")


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


def score_text(score: float | None) -> str:
    return "n/a" if score is None else f"{score:.2f}%"


def render_json(report: Report, color: bool = False) -> str:
    return json.dumps(report, indent=2, sort_keys=True) + "\n"


def render_text(report: Report, color: bool = False) -> str:
    buffer = io.StringIO()
    console = Console(
        file=buffer, force_terminal=color, no_color=not color, width=160, highlight=False
    )
    verdict = "[green]PASS[/]" if report["passed"] else "[red]FAIL[/]"
    console.print(
        f"parity {score_text(report['score'])} (raw identity {score_text(report['raw_identity'])},"
        f" minimum {report['min_score']:g}%) across {', '.join(report['environments'])}: {verdict}"
    )
    totals = report["totals"]
    console.print(
        f"{totals['paths']} paths: {totals['equal']} equal, {totals['declared']} declared, "
        f"{totals['undeclared']} undeclared, {totals['missing']} missing"
    )
    pairs = Table(title="pairs")
    for header in ("pair", "parity", "raw identity", "undeclared", "missing"):
        pairs.add_column(header)
    for pair in report["pairs"]:
        pairs.add_row(
            " ~ ".join(pair["environments"]),
            score_text(pair["score"]),
            score_text(pair["raw_identity"]),
            str(pair["undeclared"]),
            str(pair["missing"]),
        )
    console.print(pairs)
    open_differences = [d for d in report["differences"] if d["classification"] in NOT_MATCHING]
    if open_differences:
        table = Table(title="undeclared and missing differences")
        table.add_column("path", overflow="fold")
        for env in report["environments"]:
            table.add_column(env, overflow="fold")
        table.add_column("class")
        table.add_column("why / source", overflow="fold")
        for diff in open_differences:
            style = "bold red" if diff["critical"] else ""
            table.add_row(
                escape(diff["path"]),
                *[escape(cell_text(diff, env)) for env in report["environments"]],
                diff["classification"] + (" (critical)" if diff["critical"] else ""),
                escape(_why(diff)),
                style=style,
            )
        console.print(table)
    declared = sum(1 for d in report["differences"] if d["classification"] == "declared")
    console.print(f"{declared} declared differences (see --format html or json for each)")
    for rule in report["rules"]:
        if rule["state"] != "active":
            line = f"rule {rule['path']!r}: {rule['state']}: {rule['detail']}"
            console.print(f"[yellow]{escape(line)}[/]")
    for failure in report["failures"]:
        console.print(f"[red]fail: {escape(failure)}[/]")
    return buffer.getvalue()


def render_markdown(report: Report, color: bool = False) -> str:
    envs = report["environments"]
    icon = "✅" if report["passed"] else "❌"
    lines = [
        f"## {icon} Environment parity: {score_text(report['score'])}",
        "",
        f"Raw identity {score_text(report['raw_identity'])}; minimum "
        f"{report['min_score']:g}%; environments {', '.join(envs)}; generated "
        f"{report['generated']}.",
        "",
        "| pair | parity | raw identity | undeclared | missing |",
        "|---|---|---|---|---|",
    ]
    for pair in report["pairs"]:
        lines.append(
            f"| {' ~ '.join(pair['environments'])} | {score_text(pair['score'])} | "
            f"{score_text(pair['raw_identity'])} | {pair['undeclared']} | {pair['missing']} |"
        )
    if report["failures"]:
        lines += ["", "**Failing because:**", ""] + [f"- {f}" for f in report["failures"]]
    open_differences = [d for d in report["differences"] if d["classification"] in NOT_MATCHING]
    lines += ["", f"### Undeclared and missing differences ({len(open_differences)})", ""]
    if open_differences:
        lines.append("| path | " + " | ".join(envs) + " | class | why / source |")
        lines.append("|---" * (len(envs) + 3) + "|")
        for diff in open_differences:
            cells = [md_cell(cell_text(diff, env)) for env in envs]
            klass = diff["classification"] + (" **critical**" if diff["critical"] else "")
            why = md_cell(_why(diff))
            lines.append(f"| `{diff['path']}` | " + " | ".join(cells) + f" | {klass} | {why} |")
    else:
        lines.append("None.")
    rules = [r for r in report["rules"] if r["state"] != "active"]
    if rules:
        lines += ["", "### Rules needing attention", ""]
        lines += [f"- `{r['path']}` ({r['owner']}): {r['state']}: {r['detail']}" for r in rules]
    declared = [d for d in report["differences"] if d["classification"] == "declared"]
    lines += [
        "",
        f"<details><summary>{len(declared)} declared differences</summary>",
        "",
        "| path | " + " | ".join(envs) + " | reason |",
        "|---" * (len(envs) + 2) + "|",
    ]
    for diff in declared:
        cells = [md_cell(cell_text(diff, env)) for env in envs]
        lines.append(
            f"| `{diff['path']}` | " + " | ".join(cells) + f" | {md_cell(diff['reason'])} |"
        )
    lines += ["", "</details>", ""]
    return "\n".join(lines)


def render_html(report: Report, color: bool = False) -> str:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("parity", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["score"] = score_text
    environment.filters["cell"] = cell_text
    environment.filters["source_line"] = _source_line
    return environment.get_template("parity.html.j2").render(report=report)


def render_junit(report: Report, color: bool = False) -> str:
    suite = ET.Element(
        "testsuite",
        name="shipyard parity",
        tests=str(len(report["resources"])),
        failures="0",
    )
    by_resource: dict[str, list[dict[str, Any]]] = {}
    for diff in report["differences"]:
        by_resource.setdefault(diff["resource"], []).append(diff)
    failures = 0
    for resource in report["resources"]:
        case = ET.SubElement(
            suite, "testcase", classname=f"parity.{resource['type']}", name=resource["name"]
        )
        bad = [
            d for d in by_resource.get(resource["name"], []) if d["classification"] in NOT_MATCHING
        ]
        if bad:
            failures += 1
            failure = ET.SubElement(
                case,
                "failure",
                message=f"{len(bad)} undeclared or missing path(s); parity "
                f"{score_text(resource['score'])}",
            )
            failure.text = "\n".join(
                f"{d['path']}: {d['classification']}: "
                + ", ".join(f"{env}={cell_text(d, env)}" for env in report["environments"])
                for d in bad
            )
    suite.set("failures", str(failures))
    ET.indent(suite)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


RENDERERS: dict[str, Callable[[Report, bool], str]] = {
    "text": render_text,
    "json": render_json,
    "markdown": render_markdown,
    "html": render_html,
    "junit": render_junit,
}


def cell_text(diff: dict[str, Any], env: str) -> str:
    """One environment's value of a difference, as every format prints it ("—": absent)."""
    if not diff["present"].get(env, False):
        return "—"
    value = diff["values"][env]
    return value if isinstance(value, str) else json.dumps(value)


def _why(diff: dict[str, Any]) -> str:
    """The rule's verdict, then where each environment's value came from."""
    source = _source_line(diff)
    parts = [diff["reason"], f"source: {source}" if source else None]
    return "; ".join(p for p in parts if p)


def _source_line(diff: dict[str, Any]) -> str | None:
    source = diff.get("source")
    if not source:
        return None
    return "; ".join(f"{env}: {where}" for env, where in source.items())


def md_cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")
