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
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import jinja2
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from parity.safe_text import html_path, md_code, md_text, visible, visible_report
from shipyard.config.plain_secrets import Masker, key_of_path

Report = dict[str, Any]
NOT_MATCHING = ("undeclared", "missing")
CATCH_ALL = "catch-all"


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


def verdict_text(report: Report) -> str:
    """`FAIL: parity 87.50% (minimum 90%)`, the line every format opens with."""
    verdict = "PASS" if report["passed"] else "FAIL"
    return f"{verdict}: parity {score_text(report['score'])} (minimum {report['min_score']:g}%)"


def counts_text(report: Report) -> str:
    totals = report["totals"]
    return (
        f"{totals['settings']} settings: {totals['identical']} identical, "
        f"{totals['declared']} declared, {totals['undeclared']} undeclared "
        f"(raw identity {score_text(report['raw_identity'])}); "
        f"{totals['differences']} differences, {totals['critical']} critical"
    )


def needs_attention(report: Report) -> list[dict[str, Any]]:
    """The undeclared and missing differences, critical ones first, otherwise in report order."""
    open_differences = [d for d in report["differences"] if d["classification"] in NOT_MATCHING]
    return sorted(open_differences, key=lambda d: not d["critical"])


def declared(report: Report) -> list[dict[str, Any]]:
    return [d for d in report["differences"] if d["classification"] == "declared"]


def catch_all_rules(report: Report) -> list[dict[str, Any]]:
    return [r for r in report["rules"] if r["state"] == CATCH_ALL]


def catch_all_text(rule: dict[str, Any]) -> str:
    return (
        f"rule {rule['path']} ({rule['owner']}) is a catch-all: {rule['detail']}; "
        "every difference it matches counts as declared"
    )


def cross_text(diff: dict[str, Any]) -> str:
    """`prod names staging`: each environment whose value names another environment."""
    cross = diff.get("cross_environment") or {}
    return "; ".join(f"{env} names {', '.join(others)}" for env, others in cross.items())


def class_text(diff: dict[str, Any]) -> str:
    """`undeclared, critical, prod names staging`; a declared difference on a critical path is
    `declared, critical path`."""
    critical = "critical path" if diff["classification"] == "declared" else "critical"
    parts = [diff["classification"], critical if diff["critical"] else "", cross_text(diff)]
    return ", ".join(p for p in parts if p)


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
        table = Table(title="needs attention: undeclared and missing differences")
        table.add_column("path", overflow="fold")
        for env in envs:
            table.add_column(escape(env), overflow="fold")
        table.add_column("class", overflow="fold")
        table.add_column("why / source", overflow="fold")
        for diff in attention:
            table.add_row(
                escape(diff["path"]),
                *[escape(cell_text(diff, env)) for env in envs],
                escape(class_text(diff)),
                escape(_why(diff)),
                style="bold red" if diff["critical"] else "",
            )
        console.print(table)
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


def render_markdown(report: Report, color: bool = False) -> str:
    envs = report["environments"]
    icon = "✅" if report["passed"] else "❌"
    lines = [f"## {icon} {verdict_text(report)}", ""]
    if report["failures"]:
        lines += ["**Failing because:**", ""] + [f"- {md_text(f)}" for f in report["failures"]]
        lines.append("")
    for rule in catch_all_rules(report):
        lines += [f"> **Warning:** {md_text(catch_all_text(rule))}", ""]
    lines += [
        f"{counts_text(report)}. Environments {md_text(', '.join(envs))}; generated "
        f"{md_text(report['generated'])}.",
        "",
    ]
    attention = needs_attention(report)
    lines += [f"### Needs attention ({len(attention)})", ""]
    if attention:
        lines += _md_table_head(["path", *envs, "class", "why / source"])
        for diff in attention:
            klass = md_text(diff["classification"])
            klass += " **critical**" if diff["critical"] else ""
            klass += f" ({md_text(cross_text(diff))})" if cross_text(diff) else ""
            lines.append(_md_row(diff, envs, klass, md_text(_why(diff))))
    else:
        lines.append("None: every difference is declared.")
    lines += ["", "### Pairs", ""]
    lines += _md_table_head(
        ["pair", "parity", "raw identity", "identical", "declared", "undeclared"]
    )
    for pair in report["pairs"]:
        cells = [
            md_text(" ~ ".join(pair["environments"])),
            score_text(pair["score"]),
            score_text(pair["raw_identity"]),
            str(pair["identical"]),
            str(pair["declared"]),
            str(pair["undeclared"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    rules = [r for r in report["rules"] if r["state"] != "active"]
    if rules:
        lines += ["", "### Rules needing attention", ""]
        lines += [
            f"- {md_code(r['path'])} ({md_text(r['owner'])}): {md_text(r['state'])}: "
            f"{md_text(r['detail'])}"
            for r in rules
        ]
    declared_differences = declared(report)
    lines += [
        "",
        f"<details><summary>{len(declared_differences)} declared differences</summary>",
        "",
    ]
    if declared_differences:
        lines += _md_table_head(["path", *envs, "class", "reason"])
        for diff in declared_differences:
            klass = md_text(class_text(diff))
            lines.append(_md_row(diff, envs, klass, md_text(diff.get("reason") or "")))
    lines += ["", "</details>", ""]
    return "\n".join(lines)


def _md_table_head(headers: list[str]) -> list[str]:
    return ["| " + " | ".join(md_text(h) for h in headers) + " |", "|---" * len(headers) + "|"]


def _md_row(diff: dict[str, Any], envs: list[str], klass: str, why: str) -> str:
    cells = [md_code(diff["path"]), *[md_text(cell_text(diff, env)) for env in envs], klass, why]
    return "| " + " | ".join(cells) + " |"


def render_html(report: Report, color: bool = False) -> str:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("parity", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["score"] = score_text
    environment.filters["cell"] = cell_text
    environment.filters["source_line"] = _source_line
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


def render_junit(report: Report, color: bool = False) -> str:
    """One test case for the verdict, then one per resource (the stack-config and stack-outputs
    pseudo resources too); a case fails when the resource has an undeclared or missing
    difference, with `type="critical"` when one of them is critical."""
    report = visible_report(report)
    envs = report["environments"]
    suite = ET.Element("testsuite", name="shipyard parity")
    properties = ET.SubElement(suite, "properties")
    for name in ("score", "raw_identity", "min_score", "passed"):
        ET.SubElement(properties, "property", name=name, value=str(report[name]))
    verdict = ET.SubElement(suite, "testcase", classname="parity", name="verdict")
    if not report["passed"]:
        failure = ET.SubElement(verdict, "failure", message=verdict_text(report), type="verdict")
        failure.text = "\n".join(report["failures"])
    by_resource: dict[str, list[dict[str, Any]]] = {}
    for diff in needs_attention(report):
        by_resource.setdefault(diff["resource"], []).append(diff)
    resources = list(report["resources"])
    listed = {r["name"] for r in resources}
    # A difference whose resource the list lacks still fails a case: never dropped.
    resources += [{"name": name, "score": None} for name in by_resource if name not in listed]
    failures = 0 if report["passed"] else 1
    for resource in resources:
        kind = resource.get("type") or resource["name"]
        case = ET.SubElement(suite, "testcase", classname=f"parity.{kind}", name=resource["name"])
        bad = by_resource.get(resource["name"], [])
        if not bad:
            continue
        failures += 1
        critical = sum(1 for d in bad if d["critical"])
        failure = ET.SubElement(
            case,
            "failure",
            message=f"{len(bad)} undeclared or missing, {critical} critical; parity "
            f"{score_text(resource['score'])}",
            type="critical" if critical else "undeclared",
        )
        failure.text = "\n".join(_junit_line(d, envs) for d in bad)
    suite.set("tests", str(len(resources) + 1))
    suite.set("failures", str(failures))
    ET.indent(suite)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def _junit_line(diff: dict[str, Any], envs: list[str]) -> str:
    prefix = "CRITICAL " if diff["critical"] else ""
    values = ", ".join(f"{env}={cell_text(diff, env)}" for env in envs)
    cross = f" ({cross_text(diff)})" if cross_text(diff) else ""
    return f"{prefix}{diff['path']}: {diff['classification']}{cross}: {values}"


RENDERERS: dict[str, Callable[[Report, bool], str]] = {
    "text": render_text,
    "json": render_json,
    "markdown": render_markdown,
    "html": render_html,
    "junit": render_junit,
}


def cell_text(diff: dict[str, Any], env: str) -> str:
    """One environment's value of a difference, as every format prints it ("—": absent);
    control characters written as escapes."""
    if not diff["present"].get(env, False):
        return "—"
    value = diff["values"][env]
    return visible(value if isinstance(value, str) else json.dumps(value))


def _why(diff: dict[str, Any]) -> str:
    """The rule's verdict, then where each environment's value came from."""
    source = _source_line(diff)
    parts = [diff.get("reason"), f"source: {source}" if source else None]
    return "; ".join(p for p in parts if p)


def _source_line(diff: dict[str, Any]) -> str | None:
    source = diff.get("source")
    if not source:
        return None
    return "; ".join(f"{env}: {where}" for env, where in source.items())


def md_cell(text: str) -> str:
    """Text in a Markdown table cell: pipes escaped, one line. For text already in a code span
    (docs/environments.md); report values go through `md_text` or `md_code`."""
    return str(text).replace("|", "\\|").replace("\n", " ")
