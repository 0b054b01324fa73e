"""Promotion dev -> staging -> prod through the gates, on the local platform."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml

from rollout.ledger import SqliteLedger
from rollout.platforms.local.platform import local_down
from shipyard.config.load import StackSources
from shipyard.stacks import plan_stack_files, write_stack_files
from tests.conftest import REPO, CliResult

FAST = {
    "trafficSteps": [100],
    "bakeSeconds": 0,
    "scaleDownDelaySeconds": 0,
    "readyTimeoutSeconds": 10,
    "analysis": {"minRequests": 0},
}


@pytest.fixture
def pipeline(project: StackSources) -> Iterator[StackSources]:
    for env in ("dev", "staging"):
        overlay = project.overlay(env)
        doc: dict[str, Any] = yaml.safe_load(overlay.read_text())
        approvals = doc.get("deploy", {}).get("approvals")
        doc["deploy"] = {**FAST, **({"approvals": approvals} if approvals else {})}
        doc["services"] = [s for s in doc.get("services", []) if s["name"] != "web"] + [
            {"name": "web", "desiredCount": 1}
        ]
        overlay.write_text(yaml.safe_dump(doc))
    write_stack_files(project, plan_stack_files(project))
    try:
        yield project
    finally:
        for env in ("dev", "staging"):
            local_down(project, env)


def test_a_release_travels_dev_to_staging_through_its_gate(
    pipeline: StackSources, cli: Callable[..., CliResult]
) -> None:
    deployed = cli(
        "deploy",
        "dev",
        "--version",
        "v5",
        "--service",
        "api",
        "--commit",
        "c0ffee",
        "--author",
        "ada",
        "--by",
        "ci",
        project=pipeline,
    )
    assert deployed.code == 0, deployed

    skipping = cli("promote", "dev", "prod", "--service", "api", "--by", "dave", project=pipeline)
    assert skipping.code == 2
    assert "promotion goes dev -> staging -> prod, one step at a time" in skipping.err

    ungated = cli("promote", "dev", "staging", "--service", "api", "--by", "dave", project=pipeline)
    assert ungated.code == 1
    assert "api@v5#c0ffee needs 1 approval(s) in staging" in ungated.err
    preview = cli("promote", "dev", "staging", "--service", "api", "--by", "dave", "--dry-run",
                  "--format", "json", project=pipeline)  # fmt: skip
    assert preview.code == 0, preview
    assert json.loads(preview.out) == {
        "from": "dev",
        "to": "staging",
        "release": "api@v5#c0ffee",
        "author": "ada",
        "gate": {
            "required": 1,
            "counted": [],
            "satisfied": False,
            "explanation": json.loads(preview.out)["gate"]["explanation"],
        },
    }
    assert "needs 1 approval(s)" in json.loads(preview.out)["gate"]["explanation"]

    self_approval = cli(
        "approve", "staging", "--release", "api@v5#c0ffee", "--by", "ada", project=pipeline
    )
    assert self_approval.code == 1
    assert "ada wrote api@v5#c0ffee and cannot approve it" in self_approval.err

    assert (
        cli(
            "approve", "staging", "--release", "api@v5#c0ffee", "--by", "bob", project=pipeline
        ).code
        == 0
    )
    ready = cli("promote", "dev", "staging", "--service", "api", "--by", "dave", "--dry-run",
                project=pipeline)  # fmt: skip
    assert ready.out == "api@v5#c0ffee (by ada) would go dev -> staging; the gate is satisfied\n"
    staging = pipeline.overlay("staging")
    original = staging.read_text()
    staging.write_text(original + "\nalarms:\n  evaluationPeriods: 5\n")  # undeclared
    write_stack_files(pipeline, plan_stack_files(pipeline))
    too_different = cli(
        "promote",
        "dev",
        "staging",
        "--service",
        "api",
        "--by",
        "dave",
        "--min-parity",
        "99.9",
        project=pipeline,
    )
    assert too_different.code == 1
    assert too_different.err.startswith("shipyard: parity between dev and staging fails (score 9")
    assert "is below the minimum 99.9%" in too_different.err
    assert "run `shipyard parity dev staging --min-score 99.9`" in too_different.err
    staging.write_text(original)
    write_stack_files(pipeline, plan_stack_files(pipeline))
    promoted = cli(
        "promote",
        "dev",
        "staging",
        "--service",
        "api",
        "--by",
        "dave",
        "--format",
        "json",
        project=pipeline,
    )
    assert promoted.code == 0, promoted
    assert json.loads(promoted.out)["status"] == "succeeded"

    ledger = SqliteLedger(pipeline.root / ".shipyard" / "ledger.db")
    promotion = next(e for e in ledger.events("staging") if e.kind == "promotion")
    assert promotion.data["version"] == "v5" and promotion.data["from"] == "dev"
    assert promotion.data["approval_wait_seconds"] >= 0
    gate = next(e for e in ledger.events("staging") if e.kind == "gate-passed")
    assert gate.data["approvals"] == ["bob"]
    status = json.loads(cli("status", "staging", "--format", "json", project=pipeline).out)
    api = next(s for s in status["local"]["services"] if s["name"] == "api")
    assert api["versions"][api["active_color"]] == "v5"

    to_prod = cli(
        "promote", "staging", "prod", "--service", "api", "--by", "dave", project=pipeline
    )
    assert to_prod.code == 1
    assert "needs 2 approval(s) in prod" in to_prod.err


def test_a_release_that_never_succeeded_is_not_promoted(
    pipeline: StackSources, cli: Callable[..., CliResult]
) -> None:
    result = cli("promote", "dev", "staging", "--service", "web", "--by", "dave", project=pipeline)
    assert result.code == 1
    assert "no release of web has succeeded in dev" in result.err


def test_a_release_nobody_wrote_goes_to_dev_but_is_never_promoted(
    pipeline: StackSources, cli: Callable[..., CliResult]
) -> None:
    """dev needs no approvals: an unknown author is fine there. staging's gate must keep the
    author's own approval out, so it refuses a release whose author nobody named."""
    for version, author in (("v5", ("--author", "")), ("v6", ())):  # not a git work tree
        deployed = cli("deploy", "dev", "--version", version, "--service", "api", "--by", "ci",
                       *author, project=pipeline)  # fmt: skip
        assert deployed.code == 0, deployed
    ledger = SqliteLedger(pipeline.root / ".shipyard" / "ledger.db")
    releases = [e.data for e in ledger.events("dev") if e.kind == "release"]
    assert [(r["version"], r["author"]) for r in releases] == [("v5", "unknown"), ("v6", "unknown")]
    for reviewer in ("bob", "carol"):
        approved = cli("approve", "staging", "--release", "api@v6#unknown", "--by", reviewer,
                       project=pipeline)  # fmt: skip
        assert approved.code == 0, approved
    preview = cli("promote", "dev", "staging", "--service", "api", "--by", "dave", "--dry-run",
                  project=pipeline)  # fmt: skip
    assert preview.code == 0
    assert "api@v6#unknown has no known author" in preview.out
    before = len(ledger.events())
    refused = cli("promote", "dev", "staging", "--service", "api", "--by", "dave", project=pipeline)
    assert refused.code == 2, refused
    assert refused.err.startswith("shipyard: api@v6#unknown has no known author, and staging's")
    assert "redeploy it to dev with --author WHO" in refused.err
    assert refused.err.count("\n") == 1
    assert len(ledger.events()) == before  # nothing recorded, nothing deployed


STAGING_SECRET = (
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:shipyard/staging/web/database-url"
)


def test_a_promotion_parity_fails_is_refused_however_high_the_score(
    pipeline: StackSources, cli: Callable[..., CliResult]
) -> None:
    """prod's web reading staging's database secret is a critical difference: the gate takes
    parity's verdict, not only its score, so nothing reaches prod."""
    release = ("--service", "web", "--commit", "c0ffee", "--author", "ada", "--by", "ci")
    assert cli("deploy", "dev", "--version", "v5", *release, project=pipeline).code == 0
    assert cli("approve", "staging", "--release", "web@v5#c0ffee", "--by", "bob",
               project=pipeline).code == 0  # fmt: skip
    assert cli("deploy", "staging", "--version", "v5", *release, project=pipeline).code == 0
    # staging's stack config as committed again (the quick policy was for the test's deploy):
    # staging and prod now differ only as stacks/parity.yaml declares. prod's approvals are
    # left out: were the gate to let the promotion by, the approvals gate would refuse it at
    # once rather than start prod's fifteen-minute rollout.
    pipeline.overlay("staging").write_text((REPO / "stacks" / "staging.yaml").read_text())
    write_stack_files(pipeline, plan_stack_files(pipeline))
    assert cli("parity", "staging", "prod", "--min-score", "90", project=pipeline).code == 0

    prod = pipeline.overlay("prod")
    doc: dict[str, Any] = yaml.safe_load(prod.read_text())
    web = next(s for s in doc["services"] if s["name"] == "web")
    web["secrets"] = {"DATABASE_URL": STAGING_SECRET}
    prod.write_text(yaml.safe_dump(doc, sort_keys=False))
    rendered = cli("stacks", "render", project=pipeline)
    assert rendered.code == 0, rendered
    report = cli("parity", "staging", "prod", "--format", "json", project=pipeline)
    assert report.code == 1
    assert json.loads(report.out)["score"] >= 90  # a score-only gate would let it through

    ledger = SqliteLedger(pipeline.root / ".shipyard" / "ledger.db")
    events = ledger.events()
    stack_files = [*pipeline.stacks_dir.iterdir(), pipeline.pulumi_stack_file("prod")]
    before = {f: f.read_bytes() for f in stack_files}
    refused = cli("promote", "staging", "prod", "--service", "web", "--by", "dave",
                  "--min-parity", "90", project=pipeline)  # fmt: skip
    assert refused.code == 1, refused
    assert refused.err.count("\n") == 1
    assert refused.err.startswith("shipyard: parity between staging and prod fails (score ")
    assert ".secrets[name=DATABASE_URL].valueFrom: prod names staging" in refused.err
    assert re.search(r"\(and \d+ more\)", refused.err)  # `shipyard parity` lists them all
    assert refused.err.endswith(
        "nothing was deployed: run `shipyard parity staging prod --min-score 90` for the whole "
        "report\n"
    )
    # prod is as it was: nothing in the ledger, no process started, no stack file written.
    assert ledger.events() == events and ledger.events("prod") == []
    assert not (pipeline.root / ".shipyard" / "local" / "prod").exists()
    assert {f: f.read_bytes() for f in stack_files} == before
