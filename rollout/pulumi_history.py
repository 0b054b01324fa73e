"""Metrics from Pulumi's own history: `pulumi stack history --json` as ledger-shaped events.

Each `update` becomes a deploy of the stack: started at `startTime`, finished at `endTime`,
succeeded or failed per `result`; `environment["git.head"]` and `["git.author"]` are its commit
and author. Pulumi records no commit time, so lead time needs `git.commit.time` in the update's
environment (`pulumi up --env git.commit.time=...` style metadata) or stays n/a.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rollout.ledger import Event
from shipyard.errors import UsageError

RESULTS = {"succeeded": "succeeded", "failed": "failed"}


def load_history(path: Path) -> list[dict[str, Any]]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{path}: cannot read ({exc.strerror})") from None
    except ValueError as exc:
        raise UsageError(
            f"{path}: not JSON ({exc}); write it with `pulumi stack history --json > FILE`"
        ) from None
    if not isinstance(doc, list):
        raise UsageError(f"{path}: expected the list `pulumi stack history --json` prints")
    return doc


def events_from_history(updates: list[dict[str, Any]], environment: str) -> list[Event]:
    events: list[Event] = []
    for update in sorted(updates, key=lambda u: str(u.get("startTime", ""))):
        if update.get("kind") != "update" or update.get("result") not in RESULTS:
            continue
        meta = update.get("environment") or {}
        rollout = f"pulumi-{environment}-{update.get('version')}"
        release = {
            "service": "stack",
            "version": str(update.get("version")),
            "commit": meta.get("git.head", "unknown"),
            "author": meta.get("git.author", "unknown"),
            "commit_time": meta.get("git.commit.time"),
            "purpose": "deploy",
        }
        for kind, at, data in (
            ("release", update.get("startTime"), release),
            (
                "outcome",
                update.get("endTime") or update.get("startTime"),
                {"status": RESULTS[update["result"]], "message": update.get("message", "")},
            ),
        ):
            events.append(
                Event(
                    len(events) + 1,
                    str(at),
                    environment,
                    rollout,
                    kind,
                    str(meta.get("git.author", "pulumi")),
                    data,
                    "",
                    "",
                )
            )
    return events
