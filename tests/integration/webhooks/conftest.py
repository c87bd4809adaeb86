"""Fixtures for the webhook tests (see harness.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.fakes.messaging import FakeGraph, FakeTelegram
from tests.integration.webhooks.harness import Clock, Relays, echo, relay_settings

from openclaw_secure_stack.audit.sink import CapturingSink
from openclaw_secure_stack.proxy.app import build_app
from openclaw_secure_stack.proxy.testing import RecordingUpstream
from openclaw_secure_stack.settings import load_settings


@pytest.fixture
def relay_overrides() -> dict[str, str]:
    """Settings a test module changes (e.g. WEBHOOK_QUEUE_SIZE), lower-case names."""
    return {}


@pytest.fixture
async def relays(
    tmp_path: Path,
    upstream: RecordingUpstream,
    telegram: FakeTelegram,
    graph: FakeGraph,
    relay_overrides: dict[str, str],
) -> AsyncIterator[Relays]:
    upstream.requests.clear()
    upstream.chat_reply = echo
    telegram.clear()
    graph.clear()
    overrides = relay_settings(tmp_path, telegram, graph, **relay_overrides)
    overrides["upstream_url"] = upstream.url
    config = load_settings(**overrides).proxy_config()
    sink = CapturingSink()
    clock = Clock()
    app = build_app(config, sink, clock=clock)
    try:
        relays = Relays(app, config, sink, clock, upstream, telegram, graph)
        yield relays
    finally:
        await relays.app.close()
        upstream.chat_reply = None
