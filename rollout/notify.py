"""Deploy notifications to a webhook (Slack-compatible JSON). A failing webhook is logged in
the ledger and never fails a deploy.

A webhook URL is a credential, so the stack config names the environment variable that holds it
(`webhookUrl: ${SHIPYARD_WEBHOOK_URL}`), read when a notification is sent; neither the URL nor
its path ever reaches the ledger.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from rollout.ledger import Ledger
from shipyard.config.model import WEBHOOK_VARIABLE
from shipyard.config.secret_shapes import MASK

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
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)

    def send(self, what: str, text: str, **fields: Any) -> bool:
        """POST {"text", "shipyard": {...}}; True when the webhook took it."""
        if not self.url:
            return False
        url = self._resolve(self.url)
        if url is None:
            self._failed(what, f"{self.url} is not set; export the webhook URL in it")
            return False
        body = {
            "text": f"{ICONS.get(what, '')} shipyard {self.environment}: {text}".strip(),
            "shipyard": {"event": what, "environment": self.environment, **fields},
        }
        try:
            response = httpx.post(url, json=body, timeout=TIMEOUT_SECONDS)
            response.raise_for_status()
            return True
        except httpx.HTTPError as exc:
            # httpx quotes the URL in some errors (a 4xx/5xx status): keep only its origin.
            error = f"{type(exc).__name__}: {exc}".replace(url, _origin(url))
            self._failed(what, error)
            return False

    def _resolve(self, configured: str) -> str | None:
        variable = WEBHOOK_VARIABLE.match(configured)
        if variable is None:
            return configured
        return self.environ.get(variable.group(1)) or None

    def _failed(self, what: str, error: str) -> None:
        self.ledger.append(
            self.environment, "notification-failed", {"event": what, "error": error[:300]}
        )


def _origin(url: str) -> str:
    """scheme://host/[secret]: where a webhook lives, without the path that authorises it."""
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    return f"{scheme}://{host}/{MASK}"
