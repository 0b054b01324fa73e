"""Who acts and who wrote a change, as the ledger names them.

A person is a name (`--by`, `--author`, a login, an email). Two names are one person when
`normalise_person` makes them equal: Unicode compatibility forms folded (NFKC: `ＢＯＢ` is
`BOB`), every blank and every invisible format character (Unicode category Cf: zero-width
space, joiners, bidi marks) removed, case folded. `B o b`, `ＢＯＢ` and `b\u200bob` are all bob.
"unknown" is what the ledger records when nobody was named: it is never someone.
"""

from __future__ import annotations

import os
import subprocess
import unicodedata
from pathlib import Path

from shipyard.errors import UsageError

UNKNOWN = "unknown"  # what the ledger records for an author or commit nobody gave


class Nobody(UsageError):
    """Nobody is named anywhere identity looks (a bad name there is another UsageError)."""


MAX_NAME = 100  # characters: longer than any login or email a reviewer uses


def normalise_person(name: str) -> str:
    """The one form every name is compared in: `  Ada@Example.com `, `A D A@example.com`,
    `ａｄａ@example.com` and `a\u200bda@example.com` are one person.

    NFKC folds compatibility forms (fullwidth, ligatures), which is also the form casefold
    is stable under (https://www.unicode.org/reports/tr15/, https://unicode.org/reports/tr44/
    for the categories)."""
    folded = unicodedata.normalize("NFKC", name)
    kept = "".join(c for c in folded if not c.isspace() and unicodedata.category(c) != "Cf")
    return unicodedata.normalize("NFKC", kept.casefold())


def shown(text: str) -> str:
    """A value quoted for a one-line error, cut after 40 characters."""
    return repr(text) if len(text) <= 40 else f"{text[:40]!r}... ({len(text)} characters)"


def person_name(name: str, source: str) -> str:
    """A name as given (stripped), or a UsageError naming `source` (`--by`, `--author`,
    `$SHIPYARD_ACTOR`): control characters (a newline forges a second line of output or of a
    report) and names over MAX_NAME characters are refused, never cut or cleaned."""
    bad = next((c for c in name if unicodedata.category(c) in ("Cc", "Zl", "Zp")), None)
    if bad is not None:
        raise UsageError(
            f"{source} {shown(name)} contains the control character {bad!r}: give the name on one "
            "line, printable characters only"
        )
    if len(name) > MAX_NAME:
        raise UsageError(
            f"{source} {shown(name)} is too long: a name is at most {MAX_NAME} characters"
        )
    return name.strip()


def known_person(name: str | None) -> bool:
    """Someone named: not empty, not the ledger's "unknown"."""
    return name is not None and normalise_person(name) not in ("", UNKNOWN)


def identity(explicit: str | None = None) -> str:
    """--by, else $SHIPYARD_ACTOR, else $GITHUB_ACTOR, else `git config user.email`.

    An empty --by is refused, never replaced by the default: it is a mistake, not a choice."""
    if explicit is not None and not known_person(person_name(explicit, "--by")):
        raise UsageError(
            f"--by {explicit!r} names nobody: give a name, or drop --by to be "
            "$SHIPYARD_ACTOR, $GITHUB_ACTOR or git config user.email"
        )
    for source, candidate in (
        ("--by", explicit),
        ("$SHIPYARD_ACTOR", os.environ.get("SHIPYARD_ACTOR")),
        ("$GITHUB_ACTOR", os.environ.get("GITHUB_ACTOR")),
    ):
        if candidate is not None and known_person(person_name(candidate, source)):
            return candidate.strip()
    try:
        email = subprocess.run(
            ["git", "config", "user.email"], capture_output=True, text=True, timeout=5, check=False
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        email = ""
    if not known_person(person_name(email, "git config user.email")):
        raise Nobody(
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
