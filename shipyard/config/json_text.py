"""JSON inside strings: a policy document or container definition held as text."""

from __future__ import annotations

import json
from typing import Any


def json_in(text: str) -> Any:
    """The object or array a string holds as JSON, or None for any other string."""
    if not text.lstrip().startswith(("{", "[")):
        return None
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict | list) else None
