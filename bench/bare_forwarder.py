"""The floor for the proxy: the same server stack (granian, uvloop, one pooled aiohttp session)
doing only a bearer check and a streamed forward, with no pipeline, audit or scanning.

The gap between this and `openclaw-secure-stack serve` in bench/ingress.py is what the pipeline
costs; the gap between this and Caddy is what the Python stack costs. ingress.py starts it with
BENCH_UPSTREAM and BENCH_TOKEN set: `granian --interface asgi ... bare_forwarder:app`.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import aiohttp

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

UPSTREAM = os.environ["BENCH_UPSTREAM"]
EXPECTED = f"Bearer {os.environ['BENCH_TOKEN']}".encode()
HOP_BY_HOP = {b"connection", b"keep-alive", b"transfer-encoding", b"te", b"trailer", b"upgrade"}
_session: aiohttp.ClientSession | None = None


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    global _session
    if _session is None:
        _session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0), auto_decompress=False
        )
    if scope["path"] == "/health":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        return
    headers = dict(scope["headers"])
    if not hmac.compare_digest(headers.get(b"authorization", b""), EXPECTED):
        await send({"type": "http.response.start", "status": 401, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    forwarded = {"authorization": "Bearer gateway", "content-type": "application/json"}
    async with _session.request(
        scope["method"], UPSTREAM + scope["path"], data=body, headers=forwarded
    ) as resp:
        reply_headers = [(k, v) for k, v in resp.raw_headers if k.lower() not in HOP_BY_HOP]
        await send({"type": "http.response.start", "status": resp.status, "headers": reply_headers})
        async for chunk in resp.content.iter_any():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})
