"""The proxy as a pure ASGI app: turns each connection into a `Flow`, runs the pipeline, and
relays the answer. All policy lives in the stages; this module only speaks ASGI."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from openclaw_secure_stack import asgi
from openclaw_secure_stack.audit.sink import AuditSink
from openclaw_secure_stack.proxy.flow import (
    Body,
    Flow,
    Headers,
    Receive,
    Reject,
    Request,
    Response,
    Scope,
    Send,
    Stage,
)
from openclaw_secure_stack.proxy.pipeline import default_stages, run_stages
from openclaw_secure_stack.proxy.target import (
    ALLOWED_METHODS,
    MethodNotAllowed,
    validated_method,
    validated_path,
    validated_query,
)
from openclaw_secure_stack.proxy.upstream import Upstream
from openclaw_secure_stack.settings import ProxyConfig
from openclaw_secure_stack.webhooks.routes import Clock

log = logging.getLogger(__name__)

# The whole request head (names and values); granian's own cap is coarser and not exact.
MAX_HEADER_BYTES = 32 * 1024

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def build_app(config: ProxyConfig, audit: AuditSink, *, clock: Clock = time.time) -> ProxyApp:
    """The ingress proxy with the default pipeline. Raises RulesError for unusable rules or
    classifier files; touches nothing on disk."""
    upstream = Upstream(config.upstream)
    stages = default_stages(config, audit, upstream, clock=clock)
    return ProxyApp(
        stages, upstream, max_body=config.max_body_bytes, client_timeout=config.client_timeout
    )


class ProxyApp:
    def __init__(
        self, stages: list[Stage], upstream: Upstream, *, max_body: int, client_timeout: float
    ) -> None:
        self.stages = stages
        self._upstream = upstream
        self._max_body = max_body
        self._client_timeout = client_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        elif scope["type"] == "lifespan":
            await asgi.lifespan(receive, send, self.close)

    async def close(self) -> None:
        """Close what the worker holds open: stages that own connections or background work
        (the phone relays), then the upstream session."""
        for stage in self.stages:
            aclose = getattr(stage, "aclose", None)
            if aclose is not None:
                await aclose()
        await self._upstream.close()

    def _flow(self, scope: Scope, receive: Receive, *, websocket: bool) -> Flow:
        """A flow for this request; a bad target or length arrives already answered (400/413)."""
        headers = Headers.from_raw(scope["headers"])
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        path, query = raw_path[:256].decode("latin-1"), ""
        method: str = scope.get("method", "GET")
        denial: Reject | None = None
        try:
            method = validated_method(method)
            if sum(len(name) + len(value) for name, value in scope["headers"]) > MAX_HEADER_BYTES:
                raise Reject(431, "headers_too_large", f"headers exceed {MAX_HEADER_BYTES} bytes")
            path = validated_path(raw_path)
            query = validated_query(scope.get("query_string", b""))
            if len(headers.get_all("host")) > 1:
                raise Reject(400, "duplicate_host", "send exactly one Host header")
            length = 0 if websocket else self._body_length(headers)
            body = Body(receive, length=length, limit=self._max_body, timeout=self._client_timeout)
        except Reject as exc:
            denial = exc
            body = Body(receive, length=0, limit=self._max_body, timeout=0)
        client = scope.get("client")
        flow = Flow(
            Request(
                method=method,
                path=path,
                query=query,
                headers=headers,
                client=client[0] if client else None,
                scheme=scope.get("scheme", "http"),
                body=body,
                websocket=websocket,
            ),
            request_id=os.urandom(16).hex(),
        )
        if denial is not None:
            flow.response = Response.error(denial.status, denial.code, denial.message)
            flow.notes["denied"] = denial.code
            if isinstance(denial, MethodNotAllowed):
                flow.response.headers.set("allow", ", ".join(ALLOWED_METHODS))
        return flow

    def _body_length(self, headers: Headers) -> int | None:
        """Declared body length: 0 for none, None for chunked; over the limit is a 413 now."""
        declared = {value.strip() for value in headers.get_all("content-length")}
        if not declared:
            return None if "transfer-encoding" in headers else 0
        if len(declared) > 1 or not all(value.isdigit() and value.isascii() for value in declared):
            raise Reject(400, "bad_content_length", "Content-Length must be one decimal number")
        length = int(declared.pop())
        if length > self._max_body:
            raise Reject(413, "body_too_large", f"request body exceeds {self._max_body} bytes")
        return length

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        flow = self._flow(scope, receive, websocket=False)
        watcher: asyncio.Task[None] | None = None
        try:
            await run_stages(self.stages, flow)
            response = flow.response or Response.error(500, "no_response", "no stage answered")
            main = asyncio.current_task()
            if "content-length" not in response.headers and main is not None:
                watcher = asyncio.create_task(_cancel_on_disconnect(flow, receive, main))
            await self._respond(flow, response, send)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if not flow.notes.get("client_gone") or current is None:
                raise
            current.uncancel()
        finally:
            if watcher is not None:
                watcher.cancel()
            for cleanup in flow.cleanups:
                await cleanup()

    async def _respond(self, flow: Flow, response: Response, send: Send) -> None:
        """Send the head only with the first chunk, so a stage may still change it until then."""
        body = aiter(response.body)
        try:
            try:
                first = await anext(body, b"")
            except Exception as exc:
                # Nothing was sent yet: the client gets a clean JSON error instead.
                await _close(body)
                response = _error_for(exc)
                body, first = aiter(response.body), b""
            await send(_start(flow, response))
            # With a known length the chunk that completes it is sent as the last one (one send
            # fewer per request); the body iterator is still run to its end.
            declared = response.headers.get("content-length") or ""
            remaining = int(declared) if declared.isdecimal() else -1
            chunk: bytes | None = first
            while chunk is not None:
                remaining -= len(chunk)
                last = remaining == 0
                await send({"type": "http.response.body", "body": chunk, "more_body": not last})
                chunk = await anext(body, None)
                if last:
                    if chunk is not None:
                        raise RuntimeError("reply body is longer than its Content-Length")
                    return
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await _close(body)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (await receive())["type"] != "websocket.connect":
            return
        flow = self._flow(scope, receive, websocket=True)
        try:
            await run_stages(self.stages, flow)
            if flow.response is None and flow.tunnel is not None:
                request_id = [(b"x-request-id", flow.request_id.encode())]
                accept = {"type": "websocket.accept", "headers": request_id}
                await send({**accept, "subprotocol": flow.tunnel.subprotocol})
                await flow.tunnel.run(receive, send)
            else:
                response = flow.response or Response.error(500, "no_response", "no stage answered")
                await self._refuse(scope, flow, response, send)
        finally:
            for cleanup in flow.cleanups:
                await cleanup()

    async def _refuse(self, scope: Scope, flow: Flow, response: Response, send: Send) -> None:
        """A refused upgrade gets the same HTTP error as any request, where the server allows."""
        if "websocket.http.response" not in scope.get("extensions", {}):
            await send({"type": "websocket.close", "code": 1008})
            return
        # granian takes the refusal body only as a single message; ours is a small JSON error.
        content = b"".join([chunk async for chunk in response.body])
        await send({**_start(flow, response), "type": "websocket.http.response.start"})
        await send({"type": "websocket.http.response.body", "body": content, "more_body": False})


def _start(flow: Flow, response: Response) -> dict[str, Any]:
    headers = response.headers.raw()
    headers.append((b"x-request-id", flow.request_id.encode()))
    if not flow.request.body.complete.is_set():
        # Answered before the body was read (denied, too large, too slow): the rest of it must
        # not be read as the next request, and a slow sender must not keep the connection.
        headers.append((b"connection", b"close"))
    return {"type": "http.response.start", "status": response.status, "headers": headers}


def _error_for(exc: Exception) -> Response:
    if isinstance(exc, Reject):
        return Response.error(exc.status, exc.code, exc.message)
    log.error("reply stream failed before its first byte", exc_info=exc)
    return Response.error(500, "stage_failed", "a response stage failed; reply blocked")


async def _close(body: AsyncIterator[bytes]) -> None:
    aclose = getattr(body, "aclose", None)
    if aclose is not None:
        await aclose()


async def _cancel_on_disconnect(flow: Flow, receive: Receive, main: asyncio.Task[None]) -> None:
    """While a reply streams, a client that hangs up cancels the request (and so the upstream
    request). The request body must be fully read before `receive` can report the hang-up."""
    await flow.request.body.complete.wait()
    with contextlib.suppress(Exception):
        while (await receive())["type"] != "http.disconnect":
            pass
    flow.notes["client_gone"] = True
    main.cancel()
