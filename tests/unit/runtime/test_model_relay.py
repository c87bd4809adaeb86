"""The model relay: only its own key gets in, the provider gets the real key, replies stream."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from openclaw_secure_stack.runtime.model_relay import ModelRelay

RELAY_KEY = "relay-key-for-openclaw"
REAL_KEY = "sk-real-provider-key"
SSE = [b'data: {"choices":[{"delta":{"content":"he"}}]}\n\n', b"data: [DONE]\n\n"]


class Provider:
    """A provider that records what it received and streams SSE back."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str, dict[str, str], bytes]] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.received.append(
            (request.method, str(request.rel_url), dict(request.headers), await request.read())
        )
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for chunk in SSE:
            await response.write(chunk)
        return response


@pytest.fixture
async def provider() -> AsyncIterator[tuple[Provider, str]]:
    recorder = Provider()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", recorder.handle)
    async with TestServer(app) as server:
        yield recorder, str(server.make_url("/v1"))


@pytest.fixture
async def relay(provider: tuple[Provider, str]) -> AsyncIterator[str]:
    relay = ModelRelay(provider[1], REAL_KEY, RELAY_KEY)
    url = await relay.start()
    yield url
    await relay.stop()


async def post(url: str, key: str | None, **headers: str) -> tuple[int, bytes]:
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=b'{"stream":true}', headers=headers) as response,
    ):
        return response.status, await response.read()


async def test_the_provider_gets_the_real_key_and_nothing_of_openclaws(
    provider: tuple[Provider, str], relay: str
) -> None:
    """Path, query and body pass; the key is replaced; OpenClaw's other headers stay behind."""
    status, body = await post(
        f"{relay}/chat/completions?x=1",
        RELAY_KEY,
        **{"Content-Type": "application/json", "X-Openclaw-Session": "s1", "Cookie": "c=1"},
    )
    assert (status, body) == (200, b"".join(SSE))
    ((method, target, headers, sent),) = provider[0].received
    assert (method, target, sent) == ("POST", "/v1/chat/completions?x=1", b'{"stream":true}')
    assert headers["Authorization"] == f"Bearer {REAL_KEY}"
    assert headers["Content-Type"] == "application/json"
    assert "X-Openclaw-Session" not in headers and "Cookie" not in headers


@pytest.mark.parametrize("key", [None, "", "wrong", REAL_KEY, RELAY_KEY + "x", RELAY_KEY[:-1]])
async def test_any_other_key_is_refused_before_the_provider(
    provider: tuple[Provider, str], relay: str, key: str | None
) -> None:
    """Missing, wrong, truncated, extended, even the real key: 401, nothing forwarded."""
    status, body = await post(f"{relay}/chat/completions", key)
    assert status == 401 and b"relay_unauthorized" in body
    assert provider[0].received == []


async def test_an_unreachable_provider_is_a_502() -> None:
    """A provider that refuses connections gives OpenClaw an OpenAI-format 502."""
    relay = ModelRelay("http://127.0.0.1:9/v1", REAL_KEY, RELAY_KEY)
    url = await relay.start()
    try:
        status, body = await post(f"{url}/chat/completions", RELAY_KEY)
    finally:
        await relay.stop()
    assert status == 502 and b"model_unreachable" in body
