"""The parity report as JUnit XML, for test dashboards: well-formed whatever a value holds."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from parity.report_view import (
    Report,
    cell_text,
    cross_text,
    needs_attention,
    score_text,
    verdict_text,
)
from parity.safe_text import visible_report


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
