"""What every parity format says, in the same words: the verdict, the counts, which
differences need attention, each value as text. The renderers (parity/formats.py,
formats_markdown.py, formats_junit.py) only lay it out."""

from __future__ import annotations

import json
from typing import Any

from parity.safe_text import visible

Report = dict[str, Any]
NOT_MATCHING = ("undeclared", "missing")
CATCH_ALL = "catch-all"


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
    """A catch-all declares nothing (its detail says why): what it matches stays undeclared."""
    return (
        f"rule {rule['path']} ({rule['owner']}) is a catch-all: {rule['detail']}; "
        "the differences it matches count as undeclared"
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


def cell_text(diff: dict[str, Any], env: str) -> str:
    """One environment's value of a difference, as every format prints it ("—": absent);
    control characters written as escapes."""
    if not diff["present"].get(env, False):
        return "—"
    value = diff["values"][env]
    return visible(value if isinstance(value, str) else json.dumps(value))


def why(diff: dict[str, Any]) -> str:
    """The rule's verdict, then where each environment's value came from."""
    source = source_line(diff)
    parts = [diff.get("reason"), f"source: {source}" if source else None]
    return "; ".join(p for p in parts if p)


def source_line(diff: dict[str, Any]) -> str | None:
    source = diff.get("source")
    if not source:
        return None
    return "; ".join(f"{env}: {where}" for env, where in source.items())


def md_cell(text: str) -> str:
    """Text in a Markdown table cell: pipes escaped, one line. For text already in a code span
    (docs/environments.md); report values go through `md_text` or `md_code`."""
    return str(text).replace("|", "\\|").replace("\n", " ")
