"""Test-run wide: how pytest-xdist spreads the tests over its workers, the recording upstream
that the proxy tests of every level stand the proxy in front of, and the fake Telegram and Graph
APIs the phone relays' tests reply to.

Tests that share one expensive resource run on one worker, in their collection order: the real
OpenClaw that the e2e session starts (1-1.7 GB of memory each, so one per run, not one per
worker), and the plugin folder that its tests install with `npm ci` (two installs at once into
one folder break each other). Every other test is its own unit and goes wherever a worker is free.

(pytest-xdist's own `--dist loadgroup` cannot do this with pytest 9.2: it renames items through an
attribute pytest no longer reads, so its `xdist_group` marks are silently ignored.)
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.fakes.messaging import FakeGraph, FakeTelegram
from xdist.remote import Producer
from xdist.scheduler import LoadScopeScheduling

from openclaw_secure_stack.proxy.testing import RecordingUpstream

SHARED_RESOURCES = {
    "tests/e2e/": "openclaw",
    "tests/integration/plugin/": "prompt-guard-npm",
}


class SharedResourceScheduling(LoadScopeScheduling):
    def _split_scope(self, nodeid: str) -> str:
        for prefix, resource in SHARED_RESOURCES.items():
            if nodeid.startswith(prefix):
                return resource
        return nodeid


def pytest_xdist_make_scheduler(config: pytest.Config, log: Producer) -> SharedResourceScheduling:
    return SharedResourceScheduling(config, log)


@pytest.fixture(scope="module")
def upstream() -> Iterator[RecordingUpstream]:
    """A recording stand-in for OpenClaw, one per test module."""
    server = RecordingUpstream()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def telegram() -> Iterator[FakeTelegram]:
    """A fake Telegram Bot API, one per test module (`clear()` it between tests)."""
    server = FakeTelegram()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def graph() -> Iterator[FakeGraph]:
    """A fake WhatsApp Cloud (Graph) API, one per test module."""
    server = FakeGraph()
    server.start()
    yield server
    server.stop()
