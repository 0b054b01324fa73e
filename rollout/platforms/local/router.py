"""TrafficRouter for the local platform: per-color shares as HAProxy server weights."""

from __future__ import annotations

from rollout.platforms.local.runtime_api import HAPROXY_MAX_WEIGHT, RuntimeApi
from rollout.platforms.local.state import ServiceState
from shipyard.config.model import Color


def server_weights(shares: dict[Color, int], service: ServiceState) -> dict[Color, int]:
    """The weight each server of a color gets so the color receives its share.

    A color's share is the sum of its servers' weights over all weights, so each server gets
    share / servers-in-color, scaled to fit HAProxy's 0..256.
    """
    counts = {color: len(service.slots(color)) for color in Color}
    smallest = min((n for n in counts.values() if n), default=1)
    scale = HAPROXY_MAX_WEIGHT / 100 * smallest
    return {
        color: round(shares.get(color, 0) * scale / counts[color]) if counts[color] else 0
        for color in Color
    }


class HaproxyRouter:
    """Production weights of one service's backend, through the runtime API."""

    def __init__(self, api: RuntimeApi, service: ServiceState, backend: str | None = None) -> None:
        self.api = api
        self.service = service
        self.backend = backend or service.backend

    def weights(self) -> dict[Color, int]:
        rows = {
            row["svname"]: int(row.get("weight") or 0)
            for row in self.api.stats()
            if row["pxname"] == self.backend
        }
        totals = {
            color: sum(rows.get(slot.name, 0) for slot in self.service.slots(color))
            for color in Color
        }
        everything = sum(totals.values())
        if not everything:
            return {color: 0 for color in Color}
        shares = {color: round(100 * totals[color] / everything) for color in Color}
        # Rounding can leave 99 or 101: give the difference to the larger share.
        largest = max(shares, key=lambda c: shares[c])
        shares[largest] += 100 - sum(shares.values())
        return shares

    def set_weights(self, weights: dict[Color, int]) -> None:
        per_server = server_weights(weights, self.service)
        # Raise the receiving color before lowering the other, so no instant has every
        # server at weight 0.
        order = sorted(Color, key=lambda c: -weights.get(c, 0))
        for color in order:
            for slot in self.service.slots(color):
                self.api.set_weight(self.backend, slot.name, per_server[color])

    def verify(self, weights: dict[Color, int]) -> bool:
        return self.weights() == {color: weights.get(color, 0) for color in Color}
