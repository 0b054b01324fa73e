"""The parity report as Markdown, for `$GITHUB_STEP_SUMMARY`: every value escaped."""

from __future__ import annotations

from typing import Any

from parity.report_view import (
    Report,
    catch_all_rules,
    catch_all_text,
    cell_text,
    class_text,
    counts_text,
    cross_text,
    declared,
    needs_attention,
    score_text,
    verdict_text,
    why,
)
from parity.safe_text import md_code, md_text


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
            lines.append(_md_row(diff, envs, klass, md_text(why(diff))))
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
