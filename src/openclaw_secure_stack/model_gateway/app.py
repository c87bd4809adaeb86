"""The gateway as a pure ASGI app: OpenAI-compatible `POST /v1/chat/completions` and
`GET /v1/models` for OpenClaw, behind the gateway key; `GET /health` without it.

A chat call: key checked (constant time), body read under its cap (413) and deadline (408),
parsed and checked (400), tool results cleaned (`scanner`), the provider called with its real key,
the reply guarded (`reply`), and one `model_gateway.call` audit record written. Every error is an
OpenAI-format JSON error; one raised before the reply's first byte becomes its status.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from openclaw_secure_stack import asgi
from openclaw_secure_stack.audit.sink import AuditEvent, AuditSink
from openclaw_secure_stack.detect import Detector
from openclaw_secure_stack.model_gateway import codec
from openclaw_secure_stack.model_gateway.config import GatewayConfig
from openclaw_secure_stack.model_gateway.decisions import AllowAll, ToolCallDecider
from openclaw_secure_stack.model_gateway.errors import GatewayError, failed, invalid
from openclaw_secure_stack.model_gateway.internal import InternalAPI, Services, bearer_matches
from openclaw_secure_stack.model_gateway.provenance import (
    MemoryProvenance,
    ProvenanceStore,
    ReadResult,
)
from openclaw_secure_stack.model_gateway.providers import Provider, provider_for
from openclaw_secure_stack.model_gateway.providers.http import ProviderHTTP
from openclaw_secure_stack.model_gateway.reply import ReplyGuard, ReplySummary
from openclaw_secure_stack.model_gateway.scanner import ToolResultReport, ToolResultScanner
from openclaw_secure_stack.proxy.flow import Body, ClientGone, Headers, Receive, Reject, Scope, Send

if TYPE_CHECKING:  # governance imports the gateway's decision types: no import cycle at run time
    from openclaw_secure_stack.governance.endpoint import GovernanceEndpoint

log = logging.getLogger(__name__)

CALLER = "openclaw"
EVENT = "model_gateway.call"
INTERNAL_EVENT = "model_gateway.internal"
CHAT_PATH = "/v1/chat/completions"
ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


@dataclass
class _Reply:
    status: int
    content_type: str
    body: AsyncIterator[bytes]


async def _once(content: bytes) -> AsyncIterator[bytes]:
    yield content


def _json(status: int, payload: object) -> _Reply:
    return _Reply(status, "application/json", _once(codec.dumps(payload)))


def _error(exc: GatewayError) -> _Reply:
    return _Reply(exc.status, "application/json", _once(exc.body()))


def build_app(
    config: GatewayConfig,
    detector: Detector,
    sink: AuditSink,
    *,
    decider: ToolCallDecider | None = None,
    provenance: ProvenanceStore | None = None,
    governance: GovernanceEndpoint | None = None,
) -> GatewayApp:
    """The gateway with its provider; `decider` defaults to allow-all until governance lands."""
    http = ProviderHTTP(
        connect_timeout=config.connect_timeout,
        read_timeout=config.read_timeout,
        stream_read_timeout=config.stream_read_timeout,
        max_event_bytes=config.max_event_bytes,
    )
    return GatewayApp(
        config,
        ToolResultScanner(
            detector,
            cache_entries=config.verdict_cache_entries,
            thread_threshold=config.scan_thread_threshold,
        ),
        provider_for(config.provider, http),
        sink,
        AllowAll() if decider is None else decider,
        MemoryProvenance(config.provenance_entries) if provenance is None else provenance,
        governance,
    )


class GatewayApp:
    def __init__(
        self,
        config: GatewayConfig,
        scanner: ToolResultScanner,
        provider: Provider,
        sink: AuditSink,
        decider: ToolCallDecider,
        provenance: ProvenanceStore,
        governance: GovernanceEndpoint | None = None,
    ) -> None:
        self.config = config
        self.scanner = scanner
        self.provider = provider
        self.provenance = provenance
        self._sink = sink
        self._decider = decider
        self._key = config.gateway_key.encode()
        self.internal = InternalAPI(
            config.internal_token, Services(provenance, governance), config.plugin_token
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await asgi.lifespan(receive, send, self.provider.close)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = os.urandom(12).hex()
        headers = Headers.from_raw(scope["headers"])
        try:
            reply = await self._route(scope, headers, receive, request_id)
        except ClientGone:
            return
        except Exception as exc:
            reply = _error(self._refusal(exc, scope, request_id))
        main = asyncio.current_task()
        gone = asyncio.Event()
        watcher = None
        if reply.content_type == "text/event-stream" and main is not None:
            # OpenClaw aborting a run hangs up: stop the provider's generation too.
            watcher = asyncio.create_task(_cancel_on_disconnect(receive, main, gone))
        try:
            await _respond(reply, request_id, send)
        except asyncio.CancelledError:
            if not gone.is_set() or main is None:
                raise
            main.uncancel()
        finally:
            if watcher is not None:
                watcher.cancel()

    def _refusal(self, exc: Exception, scope: Scope, request_id: str) -> GatewayError:
        """The error to answer with, audited if that has not happened yet (bad input, unknown
        paths, bugs); if it cannot be audited, the audit failure is the answer."""
        if not isinstance(exc, GatewayError):
            log.exception("model call %s failed inside the gateway", request_id, exc_info=exc)
            exc = failed()
        if exc.audited:
            return exc
        details = {
            "method": scope.get("method"),
            "path": str(scope.get("path", ""))[:200],
            "status": exc.status,
            "error": exc.code,
        }
        outcome = "error" if exc.status >= 500 else "deny"
        caller = None if exc.status == 401 else CALLER
        try:
            self.audit(AuditEvent(EVENT, outcome, caller, request_id, details))
        except GatewayError as unrecorded:
            return unrecorded
        return exc

    async def _route(
        self, scope: Scope, headers: Headers, receive: Receive, request_id: str
    ) -> _Reply:
        method, path = scope.get("method", "GET"), scope.get("path", "")
        if path == "/health" and method == "GET":
            return _json(200, {"status": "ok"})
        if path.startswith("/internal/"):
            return await self._internal(method, path, headers, receive, request_id)
        if not self._authorized(headers):
            raise GatewayError(401, "invalid_api_key", "a valid gateway key is required")
        if path == "/v1/models" and method == "GET":
            model = {
                "id": self.config.provider.model,
                "object": "model",
                "owned_by": "openclaw-secure-stack",
            }
            return _json(200, {"object": "list", "data": [model]})
        if path == CHAT_PATH and method == "POST":
            return await self._chat(headers, receive, request_id)
        if path in ("/v1/models", CHAT_PATH):
            raise GatewayError(405, "method_not_allowed", f"{method} is not allowed on {path}")
        raise GatewayError(404, "not_found", f"no such endpoint: {path[:200]}")

    def _authorized(self, headers: Headers) -> bool:
        return bearer_matches(headers, self._key)

    async def _internal(
        self, method: str, path: str, headers: Headers, receive: Receive, request_id: str
    ) -> _Reply:
        """The internal API's answer, audited (refusals too) before it is sent."""
        details: dict[str, object] = {"method": method, "path": path[:200]}
        try:
            caller, route, answer = await self.internal.answer(
                method, path, headers, lambda: self._read_body(headers, receive)
            )
        except GatewayError as exc:
            actor = None if exc.status == 401 else "internal"
            self.audit(
                AuditEvent(
                    INTERNAL_EVENT,
                    "deny",
                    actor,
                    request_id,
                    {**details, "status": exc.status, "error": exc.code},
                )
            )
            exc.audited = True
            raise
        details |= {"route": route, "status": answer.status, **answer.details}
        self.audit(AuditEvent(INTERNAL_EVENT, "allow", caller, request_id, details))
        return _json(answer.status, answer.payload)

    async def _read_request(
        self, headers: Headers, receive: Receive
    ) -> tuple[dict[str, Any], bytes]:
        raw = await self._read_body(headers, receive)
        try:
            document = codec.loads(raw)
        except codec.InvalidJSON:
            raise invalid("the request body is not valid JSON (finite numbers only)") from None
        return check_request(document), raw

    async def _read_body(self, headers: Headers, receive: Receive) -> bytes:
        """The request body under its cap (413) and the client deadline (408)."""
        limit = self.config.max_body_bytes
        declared = headers.get_all("content-length")
        length: int | None = None
        if declared:
            value = declared[0].strip()
            if len(set(declared)) > 1 or not (value.isdecimal() and value.isascii()):
                raise invalid("Content-Length must be one decimal number")
            length = int(declared[0])
            if length > limit:
                raise GatewayError(413, "body_too_large", f"request body exceeds {limit} bytes")
        body = Body(receive, length=length, limit=limit, timeout=self.config.client_timeout)
        try:
            return await body.read()
        except Reject as exc:
            raise GatewayError(exc.status, exc.code, exc.message) from None

    async def _chat(self, headers: Headers, receive: Receive, request_id: str) -> _Reply:
        started = time.monotonic()
        document, raw = await self._read_request(headers, receive)
        call = _CallRecord(self, request_id, raw, bool(document.get("stream")), started)
        reports = await self.scanner.clean(document["messages"])
        call.reports = reports
        try:
            chunks = await self.provider.open(document)
        except GatewayError as exc:
            exc.audited = True
            call.write(ReplySummary(error=exc.code))
            raise
        guard = ReplyGuard(
            decider=self._decider,
            provenance=self.provenance,
            record=call.write,
            request_id=request_id,
            model=self.config.provider.model,
            read=tuple(ReadResult(r.tool, r.call_id, r.decision, r.rules) for r in reports),
            max_chars=self.config.max_body_bytes,
        )
        if not call.stream:
            return _json(200, await guard.completion(chunks))
        include_usage = bool((document.get("stream_options") or {}).get("include_usage"))
        return _Reply(200, "text/event-stream", guard.sse(chunks, include_usage))

    def audit(self, event: AuditEvent) -> None:
        """Record `event`; GatewayError 503 if the audit log cannot (the call is blocked)."""
        try:
            self._sink.write(event)
        except Exception as exc:
            log.exception("the audit log cannot record model call %s", event.request_id)
            unrecorded = GatewayError(
                503, "audit_unavailable", "the audit log cannot record; model call blocked"
            )
            unrecorded.audited = True
            raise unrecorded from exc


class _CallRecord:
    """Writes the one audit record of a model call (content as hashes, never stored)."""

    def __init__(
        self, app: GatewayApp, request_id: str, raw: bytes, stream: bool, started: float
    ) -> None:
        self._app = app
        self.request_id = request_id
        self.request_sha256 = hashlib.sha256(raw).hexdigest()
        self.stream = stream
        self.started = started
        self.reports: list[ToolResultReport] = []

    def write(self, summary: ReplySummary) -> None:
        blocked = any(not call.allowed for call in summary.calls)
        outcome = "error" if summary.error else "deny" if blocked else "allow"
        findings = [r.to_record() for r in self.reports if r.decision != "pass"]
        details: dict[str, object] = {
            "provider": self._app.config.provider.kind,
            "model": self._app.config.provider.model,
            "stream": self.stream,
            "request_sha256": self.request_sha256,
            "tool_results": len(self.reports),
            "findings": findings,
            "tool_calls": [call.to_record() for call in summary.calls],
            "usage": _usage(summary.usage),
            "finish_reason": summary.finish_reason,
            "reply_sha256": summary.text_sha256 or None,
            # Whole microseconds: a float would send the record down the audit log's slow
            # (pure-Python RFC 8785) path, ~0.3 ms per call.
            "duration_us": int((time.monotonic() - self.started) * 1e6),
        }
        if summary.error:
            details["error"] = summary.error
        self._app.audit(AuditEvent(EVENT, outcome, CALLER, self.request_id, details))


def _usage(usage: dict[str, Any] | None) -> dict[str, int] | None:
    if usage is None:
        return None
    names = ("prompt_tokens", "completion_tokens", "total_tokens")
    return {name: usage[name] for name in names if isinstance(usage.get(name), int)}


def check_request(document: object) -> dict[str, Any]:
    """The request, if it has the shape of an OpenAI chat request the gateway can serve."""
    if not isinstance(document, dict):
        raise invalid("the JSON body must be an object")
    messages = document.get("messages")
    if not isinstance(messages, list) or not messages:
        raise invalid("'messages' must be a non-empty list")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            # An unknown role could carry a tool result past the scanner: refuse it.
            raise invalid(f"messages[{index}] must be an object with a role of {sorted(ROLES)}")
    if not isinstance(document.get("stream", False), bool):
        raise invalid("'stream' must be true or false")
    if document.get("n", 1) != 1:
        raise invalid("'n' must be 1")
    if not isinstance(document.get("tools", []), list):
        raise invalid("'tools' must be a list")
    options = document.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise invalid("'stream_options' must be an object")
    return document


async def _cancel_on_disconnect(
    receive: Receive, main: asyncio.Task[None], gone: asyncio.Event
) -> None:
    """Called once the request body is read: the next message can only be the hang-up."""
    with contextlib.suppress(Exception):
        while (await receive())["type"] != "http.disconnect":
            pass
    gone.set()
    main.cancel()


async def _respond(reply: _Reply, request_id: str, send: Send) -> None:
    """Stream `reply`; its body never raises (the reply guard ends a broken stream with an
    error event itself)."""
    headers = [
        (b"content-type", reply.content_type.encode()),
        (b"x-request-id", request_id.encode()),
    ]
    if reply.content_type == "text/event-stream":
        headers.append((b"cache-control", b"no-cache"))
    body = reply.body
    try:
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        async for chunk in body:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        aclose = getattr(body, "aclose", None)
        if aclose is not None:
            await aclose()
