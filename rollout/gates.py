"""Approval gates: who may let a release into an environment, decided from the ledger.

A release is `service@version#commit`. An environment's policy (`deploy.approvals`) needs
`required` approvals of that exact release, from distinct reviewers, none of them the
release's author or the person deploying, none older than `maxAgeHours`; one rejection of the
release blocks it, whatever comes after. Reviewers are compared case- and space-insensitively.
A ledger whose hash chain is broken decides nothing.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
from dataclasses import dataclass, field
from typing import Any

from rollout.ledger import Event, Ledger
from rollout.ledger_head import unverified
from shipyard.config.model import Approvals
from shipyard.errors import CheckFailed, UsageError

RELEASE = re.compile(
    r"^(?P<service>[a-z][a-z0-9-]*)@(?P<version>[A-Za-z0-9][A-Za-z0-9._-]*)"
    r"(?:#(?P<commit>[0-9A-Za-z._-]+))?$"
)


@dataclass(frozen=True)
class ReleaseId:
    service: str
    version: str
    commit: str = "unknown"

    @property
    def key(self) -> str:
        return f"{self.service}@{self.version}#{self.commit}"

    def matches(self, data: dict[str, Any]) -> bool:
        return (data.get("service"), data.get("version"), data.get("commit", "unknown")) == (
            self.service,
            self.version,
            self.commit,
        )

    def to_dict(self) -> dict[str, str]:
        return {"service": self.service, "version": self.version, "commit": self.commit}


def parse_release(text: str) -> ReleaseId:
    match = RELEASE.match(text.strip())
    if match is None:
        raise UsageError(
            f"--release {text!r}: write it as service@version#commit, e.g. web@v2#3f9c2e1"
        )
    return ReleaseId(match["service"], match["version"], match["commit"] or "unknown")


def normalise_person(name: str) -> str:
    """`  Ada@Example.com ` and `ada@example.com` are one reviewer."""
    return " ".join(name.split()).casefold()


def identity(explicit: str | None = None) -> str:
    """--by, else $SHIPYARD_ACTOR, else $GITHUB_ACTOR, else `git config user.email`."""
    for candidate in (explicit, os.environ.get("SHIPYARD_ACTOR"), os.environ.get("GITHUB_ACTOR")):
        if candidate and candidate.strip():
            return candidate.strip()
    try:
        email = subprocess.run(
            ["git", "config", "user.email"], capture_output=True, text=True, timeout=5, check=False
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        email = ""
    if not email:
        raise UsageError(
            "who are you? pass --by, or set SHIPYARD_ACTOR (or GITHUB_ACTOR, or "
            "git config user.email)"
        )
    return email


@dataclass(frozen=True)
class GateResult:
    environment: str
    release: ReleaseId
    required: int
    counted: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # approvals that do not count, and why
    blocked: str | None = None

    @property
    def satisfied(self) -> bool:
        return self.blocked is None and len(self.counted) >= self.required

    def explain(self) -> str:
        if self.blocked:
            return f"{self.release.key} cannot enter {self.environment}: {self.blocked}"
        missing = self.required - len(self.counted)
        have = ", ".join(self.counted) or "none"
        lines = [
            f"{self.release.key} needs {self.required} approval(s) in {self.environment} "
            f"from distinct reviewers who are neither its author nor its deployer: has "
            f"{len(self.counted)} ({have}), missing {missing}"
        ]
        lines += [f"not counted: {reason}" for reason in self.refused]
        return "; ".join(lines)


def evaluate_gate(
    ledger: Ledger,
    environment: str,
    release: ReleaseId,
    policy: Approvals,
    author: str,
    deployer: str,
    now: dt.datetime | None = None,
) -> GateResult:
    """Whether the release may enter the environment, and if not exactly what is missing."""
    problems = ledger.verify()
    if problems:
        return GateResult(
            environment,
            release,
            policy.required,
            blocked=str(unverified(ledger.path, problems)),
        )
    now = now or dt.datetime.now(dt.UTC)
    oldest = now - dt.timedelta(hours=policy.max_age_hours)
    events = [e for e in ledger.events(environment) if release.matches(e.data)]
    rejection = next((e for e in events if e.kind == "rejection"), None)
    if rejection is not None:
        comment = f": {rejection.data['comment']}" if rejection.data.get("comment") else ""
        return GateResult(
            environment,
            release,
            policy.required,
            blocked=f"rejected by {rejection.data['reviewer']} at {rejection.at}{comment}",
        )
    excluded = {
        normalise_person(author): "is the author",
        normalise_person(deployer): "is deploying it",
    }
    counted: dict[str, str] = {}
    refused = []
    for event in (e for e in events if e.kind == "approval"):
        reviewer = event.data["reviewer"]
        who = normalise_person(reviewer)
        if who in excluded:
            refused.append(f"{reviewer} {excluded[who]}")
        elif dt.datetime.fromisoformat(event.at) < oldest:
            refused.append(
                f"{reviewer}'s approval of {event.at} is older than {policy.max_age_hours:g} h"
            )
        elif who in counted:
            refused.append(f"{reviewer} already approved")
        else:
            counted[who] = reviewer
    return GateResult(environment, release, policy.required, list(counted.values()), refused)


def record_decision(
    ledger: Ledger,
    environment: str,
    release: ReleaseId,
    reviewer: str,
    approve: bool,
    comment: str | None,
) -> Event:
    """Record an approval or a rejection; refuse an author approving their own release."""
    reviewer = " ".join(reviewer.split())
    author = release_author(ledger, release)
    if approve and author is not None and normalise_person(author) == normalise_person(reviewer):
        raise CheckFailed(
            f"{reviewer} wrote {release.key} and cannot approve it (separation of duties)"
        )
    return ledger.append(
        environment,
        "approval" if approve else "rejection",
        {**release.to_dict(), "reviewer": reviewer, "comment": comment},
        actor=reviewer,
    )


def release_author(ledger: Ledger, release: ReleaseId) -> str | None:
    """The author recorded with the release, in whichever environment it was deployed."""
    for event in ledger.events():
        if event.kind == "release" and release.matches(event.data):
            author = event.data.get("author")
            if author and author != "unknown":
                return str(author)
    return None
