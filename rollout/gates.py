"""Approval gates: who may let a release into an environment, decided from the ledger.

A release is `service@version#commit`. An environment's policy (`deploy.approvals`) needs
`required` approvals of that exact release, from distinct reviewers, none of them the
release's author or the person deploying, none older than `maxAgeHours`; one rejection of the
release blocks it, whatever comes after. Every name (reviewer, author, deployer) is compared
in one form, `rollout.people.normalise_person`.
A ledger whose hash chain is broken decides nothing, and neither does a release whose author or
deployer nobody can name: "unknown" would let the real author's own approval count.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from rollout.ledger import Event, Ledger
from rollout.ledger_head import unverified
from rollout.people import UNKNOWN, known_person, normalise_person, shown
from shipyard.config.model import VERSION, Approvals
from shipyard.errors import CheckFailed, UsageError

RELEASE = re.compile(
    r"(?P<service>[a-z][a-z0-9-]*)@(?P<version>[A-Za-z0-9][A-Za-z0-9._-]*)(?:#(?P<commit>.*))?",
    re.DOTALL,
)
# A commit: a git hash (full SHA-256 is 64 hex digits) or a short tag-like name.
COMMIT = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,63}")


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


def image_tag(version: str, flag: str = "--version") -> str:
    """The version, if `deploy` would take it as an image tag; else a UsageError naming flag."""
    if not VERSION.fullmatch(version):  # fullmatch: `$` alone lets a trailing newline by
        raise UsageError(
            f"{flag} {shown(version)} is not an image tag: letters, digits, '.', '_' or '-', "
            "up to 128 characters"
        )
    return version


def commit_id(commit: str, flag: str = "--commit") -> str:
    """The commit, if `deploy --commit` and `approve --release` take it; else a UsageError."""
    if not COMMIT.fullmatch(commit):
        raise UsageError(
            f"{flag} {shown(commit)} is not a commit: a git hash or a tag of letters, digits, "
            "'.', '_' or '-', up to 64 characters (git rev-parse --short HEAD)"
        )
    return commit


def parse_release(text: str) -> ReleaseId:
    """`service@version#commit`, each part as `deploy` would take it. The commit is required:
    `#unknown` (written out) is the release a deploy without --commit records."""
    match = RELEASE.fullmatch(text.strip())
    if match is None or match["commit"] is None:
        raise UsageError(
            f"--release {shown(text)}: write it as service@version#commit, e.g. web@v2#3f9c2e1"
        )
    image_tag(match["version"], "--release: the version")  # what deploy would refuse
    commit_id(match["commit"], "--release: the commit")
    return ReleaseId(match["service"], match["version"], match["commit"])


# How to name the author of a release that has none: `deploy` takes --author; `promote` takes
# the author recorded when the release went into FROM, and `rollback --to` the ledger's.
DEPLOY_AUTHOR_FIX = (
    "deploy it with --author WHO (its commit's author; without --author, the author git "
    "records for --commit, or for HEAD)"
)


def unvouched(
    ledger: Ledger,
    environment: str,
    release: ReleaseId,
    author: str,
    deployer: str,
    author_fix: str = DEPLOY_AUTHOR_FIX,
) -> str | None:
    """Why a gate cannot judge this release (no author, no deployer to keep out), or None."""
    if not known_person(deployer):
        return (
            f"who is deploying {release.key}? {environment}'s approvals must not be the "
            "deployer's own: pass --by WHO, or set SHIPYARD_ACTOR"
        )
    if not known_person(author) and release_author(ledger, release) is None:
        return (
            f"{release.key} has no known author, and {environment}'s approvals must not be the "
            f"author's own: {author_fix}"
        )
    return None


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
    author_fix: str = DEPLOY_AUTHOR_FIX,
    verified: bool = False,
) -> GateResult:
    """Whether the release may enter the environment, and if not exactly what is missing.
    `verified`: the caller (check_gate) has just verified the ledger and refused an unvouched
    release, so neither is read again."""
    problems = [] if verified else ledger.verify()
    if problems:
        return GateResult(
            environment,
            release,
            policy.required,
            blocked=str(unverified(ledger.path, problems)),
        )
    problem = (
        None if verified else unvouched(ledger, environment, release, author, deployer, author_fix)
    )
    if problem is not None:
        return GateResult(environment, release, policy.required, blocked=problem)
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
        normalise_person(who): "is the author"
        for who in [author, *recorded_authors(ledger, release)]  # as given, and as recorded
        if known_person(who)
    }
    excluded[normalise_person(deployer)] = "is deploying it"
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
    """The author first recorded with the release, in whichever environment it went."""
    return next(iter(recorded_authors(ledger, release)), None)


def recorded_authors(ledger: Ledger, release: ReleaseId) -> list[str]:
    """Every author recorded with the release, in any environment; for a release of unknown
    commit (a `rollback --to`), with any release of that version."""
    authors = []
    for event in ledger.events():
        if event.kind != "release":
            continue
        same = release.matches(event.data) or (
            release.commit == UNKNOWN
            and (event.data.get("service"), event.data.get("version"))
            == (release.service, release.version)
        )
        author = event.data.get("author")
        if same and isinstance(author, str) and known_person(author) and author not in authors:
            authors.append(author)
    return authors
