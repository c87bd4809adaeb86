"""Forward stage: sends the authorized request to OpenClaw and streams the reply back.

The request body is sent as read whole by the intent stage (or the sanitizer's replacement),
only after its intent record is durable; the reply is handed on chunk by chunk as it arrives,
with no buffering, so SSE stays live. Client headers pass by allowlist (`FROM_CLIENT`); OpenClaw
gets the gateway token instead of the client's credentials.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import ClassVar

import aiohttp

from openclaw_secure_stack.proxy.audit import INTENT_NOTE
from openclaw_secure_stack.proxy.flow import Flow, Headers, Reject, Response
from openclaw_secure_stack.proxy.upstream import Upstream
from openclaw_secure_stack.proxy.websocket import open_tunnel

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# The only client headers OpenClaw gets (an allowlist: OpenClaw 2026.9.6 reads many more, see
# the README's "What reaches OpenClaw"). Each one, and why it may pass:
FROM_CLIENT = frozenset(
    {
        # How the body is encoded; OpenClaw reads JSON bodies.
        "content-type",
        # Which representation the client wants; OpenClaw's Control UI routing reads it.
        "accept",
        # The browser's origin. OpenClaw only ever restricts with it: its Control UI WebSocket
        # refuses a browser client whose Origin is missing or not allowed (a local proxy's
        # loopback origin passes), so without it the Control UI could not connect.
        "origin",
    }
)
# Upstream reply headers the client never sees: hop-by-hop ones (plus any that `Connection`
# names); `Set-Cookie`, because the proxy never forwards `Cookie`, so OpenClaw's cookies (its
# Control UI plugin auth) would only leak its state to the client; the upstream's own request id
# (the proxy adds its own) and anything in the proxy's `x-oss-` namespace, so OpenClaw cannot
# forge or hide the proxy's findings headers.
_NOT_TO_CLIENT = HOP_BY_HOP | {"set-cookie", "set-cookie2", "x-request-id"}
PROXY_HEADER_PREFIX = "x-oss-"


def _connection_listed(headers: Headers) -> set[str]:
    listed: set[str] = set()
    for value in headers.get_all("connection"):
        listed.update(name.strip().lower() for name in value.split(",") if name.strip())
    return listed


def upstream_headers(flow: Flow, authorization: str) -> list[tuple[str, str]]:
    """The allowlisted client headers, then the proxy's own: those request stages chose
    (`flow.upstream_headers`, e.g. the bound session key), the gateway token, the request id,
    `Accept-Encoding: identity` (a reply is scanned as it arrives, so it must not be compressed)
    and the body length.

    Credentials (`Cookie`, `X-OpenClaw-Token`, `X-OpenClaw-Password`, `X-Api-Key`), session,
    agent, model and scope selectors (`X-OpenClaw-*`) and forwarding headers never pass.
    No Forwarded / X-Forwarded-* / X-Real-IP either: OpenClaw 2026.9.6 rejects any request
    carrying them (403 proxy_attribution_required) unless the forwarded client is a non-loopback
    address from a `gateway.trustedProxies` source. The client's address is in the audit log.
    """
    request = flow.request
    allowed = FROM_CLIENT - _connection_listed(request.headers)
    headers = [(name, value) for name, value in request.headers.items() if name in allowed]
    headers.extend(flow.upstream_headers.items())
    headers.append(("authorization", authorization))
    headers.append(("x-request-id", flow.request_id))
    headers.append(("accept-encoding", "identity"))
    if request.body.length:
        headers.append(("content-length", str(request.body.length)))
    return headers


def response_headers(raw: Headers) -> Headers:
    drop = _NOT_TO_CLIENT | _connection_listed(raw)
    return Headers(
        (name, value)
        for name, value in raw.items()
        if name not in drop and not name.startswith(PROXY_HEADER_PREFIX)
    )


class Forward:
    name: ClassVar[str] = "forward"
    sees_answered: ClassVar[bool] = False

    def __init__(self, upstream: Upstream) -> None:
        self._upstream = upstream

    async def __call__(self, flow: Flow) -> None:
        body = flow.request.body.content
        if flow.notes.get(INTENT_NOTE) != "recorded" or body is None:
            # Fail closed on a mis-ordered pipeline: nothing goes upstream unaudited or half-read.
            raise RuntimeError("forward needs the intent stage (durable record, whole body) first")
        headers = upstream_headers(flow, self._upstream.authorization)
        url = self._upstream.url(flow.request.path, flow.request.query)
        if flow.request.websocket:
            if flow.frames is None:
                # Fail closed: a tunnel relays only frames something has judged.
                raise Reject(503, "websocket_unguarded", "WebSocket frames cannot be checked")
            flow.tunnel = await open_tunnel(self._upstream, url, headers, flow.request, flow.frames)
            return
        try:
            async with asyncio.timeout(self._upstream.read_timeout):
                resp = await self._upstream.session.request(
                    flow.request.method,
                    url,
                    headers=headers,
                    data=body or None,  # bytes go out with the head in one write
                    allow_redirects=False,
                )
        except TimeoutError:
            raise Reject(504, "upstream_timeout", "OpenClaw did not answer in time") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise Reject(502, "upstream_unavailable", "OpenClaw cannot be reached") from exc
        flow.cleanups.append(_finisher(resp))
        transfer = {
            coding.strip().lower()
            for value in resp.headers.getall("transfer-encoding", [])
            for coding in value.split(",")
        }
        if transfer - {"chunked", "identity", ""}:
            # aiohttp undoes only chunking: a gzip transfer coding would reach the client as
            # bytes nobody scanned. Node never sends one; refuse it like an encoded reply.
            flow.notes["upstream_transfer_encoding"] = ",".join(sorted(transfer))
            raise Reject(502, "upstream_encoded", "OpenClaw sent an encoded reply; it was refused")
        streamed = resp.content_length is None
        timeout = self._upstream.stream_read_timeout if streamed else self._upstream.read_timeout
        flow.response = Response(
            resp.status,
            response_headers(Headers.from_raw(resp.raw_headers)),
            _download(resp, timeout),
            origin="upstream",
        )


async def _download(resp: aiohttp.ClientResponse, chunk_seconds: float) -> AsyncIterator[bytes]:
    while True:
        try:
            # What already arrived needs no deadline (a small reply is usually all here by now).
            chunk = resp.content.read_nowait()
            if not chunk and not resp.content.at_eof():
                async with asyncio.timeout(chunk_seconds):
                    chunk = await resp.content.readany()
        except TimeoutError:
            raise Reject(504, "upstream_timeout", "OpenClaw stopped sending its reply") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise Reject(502, "upstream_broken", "OpenClaw's reply broke off") from exc
        if not chunk:
            return
        yield chunk


def _finisher(resp: aiohttp.ClientResponse) -> Callable[[], Awaitable[None]]:
    async def finish() -> None:
        # An unfinished reply (client gone, error) closes the connection: OpenClaw sees the
        # request cancelled. A finished one goes back to the pool.
        if resp.content.at_eof():
            resp.release()
        else:
            resp.close()

    return finish
