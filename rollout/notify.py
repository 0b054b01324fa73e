"""Deploy notifications to a webhook (Slack-compatible JSON). A failing webhook is logged in
the ledger and never fails a deploy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from rollout.ledger import Ledger

TIMEOUT_SECONDS = 3.0
ICONS = {
    "started": ":rocket:",
    "succeeded": ":white_check_mark:",
    "failed": ":x:",
    "rolled-back": ":rewind:",
    "approval-needed": ":raised_hand:",
    "paused": ":pause_button:",
}


@dataclass(frozen=True)
class Notifier:
    url: str | None
    environment: str
    ledger: Ledger

    def send(self, what: str, text: str, **fields: Any) -> bool:
        """POST {"text", "shipyard": {...}}; True when the webhook took it."""
        if not self.url:
            return False
        body = {
            "text": f"{ICONS.get(what, '')} shipyard {self.environment}: {text}".strip(),
            "shipyard": {"event": what, "environment": self.environment, **fields},
        }
        try:
            response = httpx.post(self.url, json=body, timeout=TIMEOUT_SECONDS)
            response.raise_for_status()
            return True
        except httpx.HTTPError as exc:
            self.ledger.append(
                self.environment,
                "notification-failed",
                {"event": what, "error": f"{type(exc).__name__}: {exc}"[:300]},
            )
            return False
