"""Call an ASGI app in-process, as a server would, and collect its answer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

App = Callable[[MutableMapping[str, Any], Any, Any], Awaitable[None]]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def events(self) -> list[Any]:
        """The `data:` payloads of an SSE body, JSON-decoded ("[DONE]" kept as text)."""
        found: list[Any] = []
        for block in self.body.decode().split("\n\n"):
            if block.startswith("data: "):
                data = block[len("data: ") :]
                found.append(data if data == "[DONE]" else json.loads(data))
        return found


async def call(
    app: App,
    method: str,
    path: str,
    *,
    headers: Sequence[tuple[str, str]] = (),
    body: bytes = b"",
    chunks: Sequence[bytes] | None = None,
    hang_up_after: int | None = None,
    query: str = "",
) -> Answer:
    """Send the request; `hang_up_after` N body messages of the reply, the client disconnects
    (until then, as with a real server, `receive` waits once the request body is read)."""
    parts = list(chunks) if chunks is not None else [body]
    raw_headers = [(k.lower().encode(), v.encode()) for k, v in headers]
    if chunks is None:
        raw_headers.append((b"content-length", str(len(body)).encode()))
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "headers": raw_headers,
        "query_string": query.encode(),
    }

    hung_up = asyncio.Event()
    sent = 0

    async def receive() -> dict[str, Any]:
        if parts:
            chunk = parts.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(parts)}
        await hung_up.wait()
        return {"type": "http.disconnect"}

    status = 0
    out_headers: dict[str, str] = {}
    content = bytearray()

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, sent
        if message["type"] == "http.response.start":
            status = message["status"]
            out_headers.update({k.decode(): v.decode() for k, v in message["headers"]})
        elif message["type"] == "http.response.body":
            content.extend(message.get("body", b""))
            sent += 1
            if hang_up_after is not None and sent >= hang_up_after:
                hung_up.set()

    await app(scope, receive, send)
    return Answer(status, out_headers, bytes(content))
