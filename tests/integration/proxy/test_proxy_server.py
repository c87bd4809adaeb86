"""The proxy served for real (granian, `serve`) in front of a local upstream that records what
it receives."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from openclaw_secure_stack.audit.verify import verify_chain
from openclaw_secure_stack.proxy.testing import (
    TEST_AUDIT_KEY,
    TEST_CLIENT_TOKENS,
    TEST_GATEWAY_TOKEN,
    RecordingUpstream,
    proxy_environment,
    raw_exchange,
    raw_request,
    running_proxy,
)

ALICE = {"Authorization": f"Bearer {TEST_CLIENT_TOKENS['alice']}"}


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
async def test_every_method_is_forwarded(
    proxy: str, upstream: RecordingUpstream, method: str
) -> None:
    """Any method with a valid token reaches OpenClaw with the gateway token, never the client's."""
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"{proxy}/v1/things?x=1", headers=ALICE, data=b"payload") as resp,
    ):
        assert resp.status == 200
        assert (await resp.json())["method"] == method
    [seen] = upstream.requests
    assert (seen.method, seen.path, seen.body) == (method, "/v1/things?x=1", b"payload")
    assert seen.header("authorization") == f"Bearer {TEST_GATEWAY_TOKEN}"
    assert TEST_CLIENT_TOKENS["alice"] not in repr(seen.headers)


async def test_head_is_forwarded_without_body(proxy: str, upstream: RecordingUpstream) -> None:
    """HEAD passes with the upstream's headers and no body."""
    async with (
        aiohttp.ClientSession() as session,
        session.head(f"{proxy}/v1/things", headers=ALICE) as resp,
    ):
        assert resp.status == 200
        assert await resp.read() == b""
    assert [r.method for r in upstream.requests] == ["HEAD"]


async def test_sse_chunks_arrive_as_they_are_sent(proxy: str) -> None:
    """Each SSE event reaches the client when the upstream sends it, not when the stream ends."""
    arrivals: list[float] = []
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{proxy}/sse?n=4&gap=0.3", headers=ALICE) as resp,
    ):
        assert resp.headers["content-type"] == "text/event-stream"
        async for line in resp.content:
            if line.startswith(b"data:"):
                arrivals.append(time.monotonic())
    assert len(arrivals) == 5
    # Unbuffered: the first event comes ~0.9 s before the last (4 gaps of 0.3 s), not with it.
    assert arrivals[-1] - arrivals[0] > 0.6


async def test_chunked_upload_streams_through(proxy: str, upstream: RecordingUpstream) -> None:
    """A chunked request body (no Content-Length) reaches OpenClaw whole."""

    async def parts() -> AsyncIterator[bytes]:
        for number in range(5):
            yield f"part{number};".encode()
            await asyncio.sleep(0.01)

    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{proxy}/v1/upload", headers=ALICE, data=parts()) as resp,
    ):
        assert resp.status == 200
    [seen] = upstream.requests
    assert seen.body == b"part0;part1;part2;part3;part4;"


async def test_body_over_limit_with_content_length_is_413_and_not_forwarded(
    proxy: str, upstream: RecordingUpstream
) -> None:
    """A declared body over MAX_BODY_BYTES is refused before anything is sent upstream."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{proxy}/v1/upload", headers=ALICE, data=b"x" * 70000) as resp,
    ):
        assert resp.status == 413
        assert (await resp.json())["error"]["code"] == "body_too_large"
    assert upstream.requests == []


async def test_websocket_is_relayed_under_auth(proxy: str, upstream: RecordingUpstream) -> None:
    """With a token, a WebSocket reaches OpenClaw (subprotocol agreed), frames go both ways
    (what the proxy does to frames: tests/integration/proxy/test_websocket_frames.py)."""
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"{proxy}/ws", headers=ALICE, protocols=["chat"]) as ws,
    ):
        assert ws.protocol == "chat"
        client = {"id": "cli", "mode": "cli"}
        await ws.send_json(
            {"type": "req", "id": "1", "method": "connect", "params": {"client": client}}
        )
        echoed = (await ws.receive(timeout=5)).data
        assert json.loads(echoed.removeprefix("echo: "))["method"] == "connect"
    [seen] = upstream.requests
    assert seen.header("authorization") == f"Bearer {TEST_GATEWAY_TOKEN}"


async def test_websocket_without_token_is_401_and_not_forwarded(
    proxy: str, upstream: RecordingUpstream
) -> None:
    """A WebSocket upgrade without a token is refused with the usual 401; OpenClaw never sees it."""
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
            await session.ws_connect(f"{proxy}/ws")
    assert caught.value.status == 401
    assert upstream.requests == []


async def test_client_disconnect_cancels_the_upstream_request(
    proxy: str, upstream: RecordingUpstream
) -> None:
    """A client that hangs up mid-stream closes the upstream connection at once, even while the
    upstream is silent (the upstream sees its connection close)."""
    port = int(proxy.rsplit(":", 1)[1])
    token = TEST_CLIENT_TOKENS["alice"]
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(raw_request("/hold?n=1", token=token))
        sock.settimeout(5)
        received = b""
        while b"data: event 0" not in received:
            received += sock.recv(65536)
    deadline = time.monotonic() + 5
    while not upstream.disconnects and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.02)  # the upstream runs in another thread
    assert upstream.disconnects == ["/hold?n=1"]


async def test_health_and_ready(proxy: str) -> None:
    """/health and /ready answer without a token while OpenClaw and the log are fine."""
    async with aiohttp.ClientSession() as session, session.get(f"{proxy}/health") as resp:
        assert (resp.status, await resp.json()) == (200, {"status": "ok"})
        async with session.get(f"{proxy}/ready") as resp:
            assert (resp.status, await resp.json()) == (200, {"status": "ready"})


def test_audit_log_records_each_request_and_verifies(proxy: str, data_dir: Path) -> None:
    """Allowed and denied requests are in the audit log with the caller's name, and the chain
    verifies; no token appears in it."""
    port = int(proxy.rsplit(":", 1)[1])
    token = TEST_CLIENT_TOKENS["ci"]
    raw_exchange(
        port,
        raw_request("/v1/audited", token=token),
        timeout=1,
    )
    raw_exchange(
        port,
        raw_request("/v1/audited", token="nope-nope-nope-nope"),
        timeout=1,
    )
    log_path = data_dir / "audit.jsonl"
    records = [json.loads(line) for line in log_path.read_text().splitlines()]
    mine = [
        (r["actor"], r["outcome"], r["details"]["status"])
        for r in records
        if r["details"].get("path") == "/v1/audited" and r["event"] == "proxy.request"
    ]
    assert mine == [("ci", "allow", 200), (None, "deny", 403)]
    text = log_path.read_text()
    assert token not in text and "nope-nope-nope-nope" not in text
    assert verify_chain([log_path], TEST_AUDIT_KEY.encode()).intact


def test_upstream_down_is_502_and_not_ready(tmp_path: Path) -> None:
    """With OpenClaw unreachable, requests get 502 JSON and /ready is 503."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{closed.getsockname()[1]}"
    env = proxy_environment(dead, tmp_path)
    with running_proxy(env, tmp_path) as port:
        token = TEST_CLIENT_TOKENS["alice"]
        reply = raw_exchange(
            port,
            raw_request("/v1/x", token=token),
            timeout=3,
        )
        assert reply.status == 502
        assert json.loads(reply.body)["error"]["code"] == "upstream_unavailable"
        ready = raw_exchange(port, raw_request("/ready"), timeout=3)
        assert ready.status == 503
