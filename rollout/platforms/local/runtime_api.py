"""HAProxy's runtime API over its unix socket: one command per connection."""

from __future__ import annotations

import csv
import io
import socket
from dataclasses import dataclass
from pathlib import Path

from shipyard.errors import PlatformError

HAPROXY_MAX_WEIGHT = 256


class RuntimeApiError(PlatformError):
    """HAProxy refused a command or could not be reached: the local load balancer failed,
    which a rollout treats like any platform failure (rollout.executor)."""


@dataclass(frozen=True)
class RuntimeApi:
    socket_path: Path
    timeout: float = 5.0

    def command(self, line: str) -> str:
        try:
            reply = self._exchange(line)
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise RuntimeApiError(
                f"HAProxy is not answering on {self.socket_path} ({reason}): it has stopped "
                "or hangs",
                action=line.split(";")[0],
                code="unreachable",
            ) from None
        if reply.strip() and not reply.startswith("#") and "\n" not in reply.strip():
            # Set commands answer nothing on success, one line of complaint otherwise.
            raise RuntimeApiError(
                f"HAProxy refused {line!r}: {reply.strip()}", action=line, code="refused"
            )
        return reply

    def _exchange(self, line: str) -> str:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(self.timeout)
            conn.connect(str(self.socket_path))
            conn.sendall(line.encode() + b"\n")
            chunks = []
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def set_weight(self, backend: str, server: str, weight: int) -> None:
        self.command(f"set server {backend}/{server} weight {weight}")

    def set_state(self, backend: str, server: str, state: str) -> None:
        self.command(f"set server {backend}/{server} state {state}")

    def stats(self) -> list[dict[str, str]]:
        """`show stat` as rows keyed by column name (pxname, svname, status, weight, ...)."""
        text = self.command("show stat")
        reader = csv.DictReader(io.StringIO(text.lstrip("# ")))
        return [dict(row) for row in reader]
