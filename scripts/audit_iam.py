"""Audit the IAM policies in docs/iam/ with parliament, offline; exit 1 on any finding.

parliament (https://github.com/duo-labs/parliament) checks each statement against its bundled
copy of AWS's Service Authorization Reference. Its own suppression file cannot be used:
`ignore_locations` never matches in 1.6 (its `make_list` turns a YAML list into `[]`, see
duo-labs/parliament#147), so the one justified suppression lives here, matched by the finding's
exact detail rather than by a line number.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from parliament import analyze_policy_string, enhance_finding

# elasticloadbalancing:ModifyListener and DeleteListener take a listener/app OR a listener/net
# ARN (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awselasticloadbalancingv2.html),
# but parliament requires every resource type it lists to match. shipyard only has ALB
# listeners: granting listener/net too would widen the policies just to quiet the linter.
JUSTIFIED = {
    (
        "RESOURCE_MISMATCH",
        f"elasticloadbalancing:{action}",
        "arn:*:elasticloadbalancing:*:*:listener/net/*/*/*",
    )
    for action in ("ModifyListener", "DeleteListener")
}
# iam:PassRole only for the roles the program creates, under their own path (components/).
PASS_ROLE_RESOURCE = "arn:aws:iam::*:role/shipyard/*"


def findings(path: Path) -> list[str]:
    """parliament's findings for one policy file, less the justified ones, plus shipyard's own
    rule for iam:PassRole."""
    text = path.read_text(encoding="utf-8")
    found = []
    for finding in analyze_policy_string(text, str(path)).findings:
        finding = enhance_finding(finding)
        if _justified(finding.issue, finding.detail):
            continue
        found.append(f"{path}: {finding.severity} {finding.issue} {finding.detail}")
    for statement in json.loads(text)["Statement"]:
        actions = statement["Action"]
        if "iam:PassRole" in ([actions] if isinstance(actions, str) else actions):
            if statement["Resource"] != PASS_ROLE_RESOURCE:
                found.append(
                    f"{path}: iam:PassRole on {statement['Resource']!r}: grant only "
                    f"{PASS_ROLE_RESOURCE!r}, the path the program's roles are created under"
                )
    return found


def _justified(issue: str, detail: Any) -> bool:
    if not isinstance(detail, list) or not detail:
        return False
    return all(
        isinstance(item, dict)
        and (issue, item.get("action"), item.get("required_format")) in JUSTIFIED
        for item in detail
    )


def main(paths: list[str]) -> int:
    problems = [line for path in paths for line in findings(Path(path))]
    for line in problems:
        print(line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
