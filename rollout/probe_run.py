"""The probe traffic of one rollout: idle, then sending from the first shift, then stopped.

Each change is written to the ledger: `probe-started` before the first request, `probe-stopped`
(with what was sent) once the sender has finished. Stopping is idempotent, and `never` keeps a
rollout that is rolling back from starting it at its own shift.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rollout.interfaces import BackgroundTraffic

Record = Callable[[str, dict[str, Any]], None]


class ProbeRun:
    def __init__(self, traffic: BackgroundTraffic | None, record: Record) -> None:
        self.traffic = traffic
        self.record = record
        self.state = "idle"  # idle -> sending -> stopped

    def begin(self) -> None:
        if self.traffic is not None and self.state == "idle":
            self.record("probe-started", {})
            self.traffic.start()
            self.state = "sending"

    def end(self) -> None:
        if self.traffic is not None and self.state == "sending":
            self.state = "stopped"
            self.record("probe-stopped", self.traffic.stop())

    def never(self) -> None:
        """Stop it if it runs; never start it from here on."""
        self.end()
        self.state = "stopped"
