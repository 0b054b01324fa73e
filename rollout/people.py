"""Who acts and who wrote a change, as the ledger names them.

A person is a name (`--by`, `--author`, a login, an email) compared ignoring case and spacing.
"unknown" is what the ledger records when nobody was named: it is never someone.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from shipyard.errors import UsageError

UNKNOWN = "unknown"  # what the ledger records for an author or commit nobody gave


def normalise_person(name: str) -> str:
    """`  Ada@Example.com ` and `ada@example.com` are one reviewer."""
    return " ".join(name.split()).casefold()


def known_person(name: str | None) -> bool:
    """Someone named: not empty, not the ledger's "unknown"."""
    return name is not None and normalise_person(name) not in ("", UNKNOWN)


def identity(explicit: str | None = None) -> str:
    """--by, else $SHIPYARD_ACTOR, else $GITHUB_ACTOR, else `git config user.email`.

    An empty --by is refused, never replaced by the default: it is a mistake, not a choice."""
    if explicit is not None and not known_person(explicit):
        raise UsageError(
            f"--by {explicit!r} names nobody: give a name, or drop --by to be "
            "$SHIPYARD_ACTOR, $GITHUB_ACTOR or git config user.email"
        )
    for candidate in (explicit, os.environ.get("SHIPYARD_ACTOR"), os.environ.get("GITHUB_ACTOR")):
        if candidate is not None and known_person(candidate):
            return candidate.strip()
    try:
        email = subprocess.run(
            ["git", "config", "user.email"], capture_output=True, text=True, timeout=5, check=False
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        email = ""
    if not known_person(email):
        raise UsageError(
            "who are you? pass --by, or set SHIPYARD_ACTOR (or GITHUB_ACTOR, or "
            "git config user.email)"
        )
    return email


def commit_author(root: Path, commit: str = UNKNOWN) -> str | None:
    """The author's email git records for the commit (HEAD when the commit is unknown), when
    root is in a git work tree and git knows that commit; else None."""
    revision = "HEAD" if commit in ("", UNKNOWN) else commit
    # After --end-of-options (git >= 2.24) and before `--`, the commit is only ever a revision:
    # never an option ("-x"), never a path (a file named like it).
    try:
        found = subprocess.run(
            [
                "git",
                "-C",
                str(root),
                "log",
                "-1",
                "--format=%ae",
                "--end-of-options",
                revision,
                "--",
            ],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    author = found.stdout.strip()
    return author if found.returncode == 0 and known_person(author) else None
