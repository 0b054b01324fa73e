"""The local router's read-back asks HAProxy (real, through its runtime API), never trusts what
it was told: weights changed behind its back fail `verify`, which fails the rollout step."""

from __future__ import annotations

from rollout.platforms.local.router import HaproxyRouter, server_weights
from rollout.platforms.local.runtime_api import RuntimeApi
from rollout.platforms.local.state import LocalState
from shipyard.config.model import Color
from tests.integration.test_local_platform import running

__all__ = ["running"]  # the fixture: dev up on the local platform

BLUE, GREEN = Color.BLUE, Color.GREEN


def test_weights_changed_behind_the_routers_back_fail_verification(running: LocalState) -> None:
    web = running.service("web")
    api = RuntimeApi(running.socket)
    router = HaproxyRouter(api, web)
    router.set_weights({BLUE: 80, GREEN: 20})
    assert router.verify({BLUE: 80, GREEN: 20})

    # Someone sets green's servers to weight 0 over the runtime API (`set server B/S weight`).
    for slot in web.slots(GREEN):
        api.set_weight(web.backend, slot.name, 0)
    assert router.weights() == {BLUE: 100, GREEN: 0}
    assert not router.verify({BLUE: 80, GREEN: 20})
    assert router.verify({BLUE: 100, GREEN: 0})

    # ... or evens them out: still not the 80 / 20 that was set.
    even = server_weights({BLUE: 50, GREEN: 50}, web)
    for color in Color:
        for slot in web.slots(color):
            api.set_weight(web.backend, slot.name, even[color])
    assert not router.verify({BLUE: 80, GREEN: 20})
    assert router.verify({BLUE: 50, GREEN: 50})


def test_verify_reads_the_backend_it_drives_not_another_one(running: LocalState) -> None:
    web = running.service("web")
    api = RuntimeApi(running.socket)
    production = HaproxyRouter(api, web)
    test = HaproxyRouter(api, web, web.test_backend)
    production.set_weights({BLUE: 100, GREEN: 0})
    test.set_weights({BLUE: 0, GREEN: 100})
    assert production.verify({BLUE: 100, GREEN: 0})
    assert not production.verify({BLUE: 0, GREEN: 100})
    assert test.verify({BLUE: 0, GREEN: 100})
    assert not test.verify({BLUE: 100, GREEN: 0})
