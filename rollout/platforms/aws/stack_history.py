"""Which update of a Pulumi stack's history `--stack-version N` means, and whether it can be
redeployed.

Pulumi Cloud numbers a stack's updates 1, 2, 3... (every kind: update, refresh, destroy).
Self-managed backends (S3, Azure Blob, GCS, local files) store no number: their
`UpdateInfo` is written without `version`
(https://github.com/pulumi/pulumi/blob/master/pkg/backend/diy/backend.go, `backend.UpdateInfo{`
in `apply`), so `pulumi stack history --json` prints 0 for each, newest first (history files are
named `<stack>-<unix nanoseconds>.history.json` and listed in reverse:
pkg/backend/diy/state.go, `getHistory`). There shipyard numbers them by position, 1 = the
oldest, the way Pulumi Cloud would have, and says so in every message.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from shipyard.errors import CheckFailed, UsageError

if TYPE_CHECKING:
    from rollout.platforms.aws.engine import StackUpdate

BY_PULUMI = "pulumi"  # the backend's own version numbers
BY_POSITION = "position"  # self-managed backend: 1 = oldest update in the history
SHOWN = 10


def numbered(updates: list[StackUpdate]) -> tuple[list[StackUpdate], str]:
    """The history (newest first) with a number on every update, and how it was numbered."""
    if updates and all(not u.version for u in updates):
        count = len(updates)
        return [replace(u, version=count - i) for i, u in enumerate(updates)], BY_POSITION
    return updates, BY_PULUMI


def _label(update: StackUpdate) -> str:
    commit = (update.git_head or "no git.head")[:12]
    dirty = ", dirty" if update.git_dirty else ""
    when = f", {update.started}" if update.started else ""
    return f"{update.version} ({commit}{dirty}{when})"


def choices(updates: list[StackUpdate], numbering: str) -> str:
    """The successful updates one could choose, newest first, for an error message."""
    good = [u for u in updates if u.kind == "update" and u.result == "succeeded"]
    listed = ", ".join(_label(u) for u in good[:SHOWN]) or "none"
    more = f" and {len(good) - SHOWN} older" if len(good) > SHOWN else ""
    how = (
        "numbered by position, 1 = oldest: this backend records no version numbers"
        if numbering == BY_POSITION
        else "Pulumi's version numbers"
    )
    return f"successful updates: {listed}{more} ({how})"


def choose_update(updates: list[StackUpdate], version: int, numbering: str) -> StackUpdate:
    """The successful, reproducible update `version`; refused naming the choices otherwise."""
    chosen = next((u for u in updates if u.version == version), None)
    if chosen is None or chosen.kind != "update" or chosen.result != "succeeded":
        what = "is not in" if chosen is None else f"is a {chosen.result} {chosen.kind} in"
        raise UsageError(
            f"--stack-version {version} {what} the stack's history: choose a successful "
            f"update; {choices(updates, numbering)}"
        )
    if chosen.git_dirty:
        raise CheckFailed(
            f"update {version} was made from a tree with uncommitted changes (git.dirty): it "
            f"cannot be reproduced; choose another: {choices(updates, numbering)}"
        )
    if not chosen.git_head:
        raise CheckFailed(
            f"update {version} recorded no git.head (it was not run from a git work tree): "
            f"nothing to check out; choose another: {choices(updates, numbering)}"
        )
    return chosen
