"""WebSocket relay: the upstream socket is opened first (so a refusal is an HTTP error the client
sees), then the app accepts the client and frames are relayed both ways until either side closes.
Client frames pass the flow's frame filter first (`frames.py`); upstream frames go to the client
as they are."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import aiohttp
from yarl import URL

from openclaw_secure_stack.proxy.flow import FrameFilter, Receive, Reject, Request, Send
from openclaw_secure_stack.proxy.upstream import Upstream


class WebSocketTunnel:
    def __init__(self, upstream_ws: aiohttp.ClientWebSocketResponse, frames: FrameFilter) -> None:
        self._ws = upstream_ws
        self._frames = frames
        self.subprotocol = upstream_ws.protocol

    async def run(self, receive: Receive, send: Send) -> None:
        to_upstream = asyncio.create_task(self._client_to_upstream(receive, send))
        to_client = asyncio.create_task(self._upstream_to_client(send))
        try:
            await asyncio.wait({to_upstream, to_client}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (to_upstream, to_client):
                task.cancel()
            await asyncio.gather(to_upstream, to_client, return_exceptions=True)
            await self._ws.close()

    async def _client_to_upstream(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                await self._ws.close(code=message.get("code", 1000))
                return
            action = await self._frames.check(message.get("text"), message.get("bytes"))
            if action.forward is not None:
                await self._ws.send_str(action.forward)
            if action.reply is not None:
                await send({"type": "websocket.send", "text": action.reply})
            if action.close is not None:
                await send(
                    {"type": "websocket.close", "code": action.close, "reason": action.reason}
                )
                await self._ws.close()
                return

    async def _upstream_to_client(self, send: Send) -> None:
        async for message in self._ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                await send({"type": "websocket.send", "text": message.data})
            elif message.type == aiohttp.WSMsgType.BINARY:
                await send({"type": "websocket.send", "bytes": message.data})
        await send({"type": "websocket.close", "code": self._ws.close_code or 1000})


async def open_tunnel(
    upstream: Upstream,
    url: URL,
    headers: Sequence[tuple[str, str]],
    request: Request,
    frames: FrameFilter,
) -> WebSocketTunnel:
    offered = [
        p.strip() for v in request.headers.get_all("sec-websocket-protocol") for p in v.split(",")
    ]
    try:
        async with asyncio.timeout(upstream.read_timeout):
            ws = await upstream.session.ws_connect(
                url.with_scheme("wss" if url.scheme == "https" else "ws"),
                headers=headers,
                protocols=[p for p in offered if p],
                max_msg_size=upstream.max_message_bytes,
            )
    except aiohttp.WSServerHandshakeError as exc:
        raise Reject(
            502, "upstream_refused", f"OpenClaw refused the WebSocket ({exc.status})"
        ) from exc
    except TimeoutError:
        raise Reject(
            504, "upstream_timeout", "OpenClaw did not accept the WebSocket in time"
        ) from None
    except (aiohttp.ClientError, OSError) as exc:
        raise Reject(502, "upstream_unavailable", "OpenClaw cannot be reached") from exc
    return WebSocketTunnel(ws, frames)
