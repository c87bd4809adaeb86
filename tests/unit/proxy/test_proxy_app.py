"""The ASGI app: flow construction, early rejections, and how the answer is sent."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import pytest

from openclaw_secure_stack.audit.sink import CapturingSink
from openclaw_secure_stack.proxy.app import MAX_HEADER_BYTES, ProxyApp
from openclaw_secure_stack.proxy.audit import Audit
from openclaw_secure_stack.proxy.flow import Flow, Headers, Reject, Response, Stage
from openclaw_secure_stack.proxy.upstream import Upstream
from openclaw_secure_stack.settings import Settings


class FakeUpstream:
    """Stands in for Forward: answers with the given chunks and counts calls."""

    name: ClassVar[str] = "forward"
    sees_answered: ClassVar[bool] = False

    def __init__(self, *chunks: bytes, error: Exception | None = None) -> None:
        self.chunks = chunks
        self.error = error
        self.calls = 0
        self.cleaned = 0

    async def __call__(self, flow: Flow) -> None:
        self.calls += 1
        await flow.request.body.read()

        async def cleanup() -> None:
            self.cleaned += 1

        flow.cleanups.append(cleanup)
        flow.response = Response(
            200, Headers([("content-type", "text/plain")]), self._body(), "upstream"
        )

    async def _body(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk
        if self.error is not None:
            raise self.error


class LateHeader:
    """A response stage that adds a header when it sees the first chunk (as a scanner may)."""

    name: ClassVar[str] = "late-header"
    sees_answered: ClassVar[bool] = True

    async def __call__(self, flow: Flow) -> None:
        response = flow.response
        if response is None or response.origin != "upstream":
            return
        inner = response.body

        async def tagged() -> AsyncIterator[bytes]:
            async for chunk in inner:
                response.headers.set("x-scanned", "yes")
                yield chunk

        response.body = tagged()


def app_with(settings: Settings, *stages: Stage) -> tuple[ProxyApp, CapturingSink]:
    sink = CapturingSink()
    app = ProxyApp(
        [*stages, Audit(sink)],
        Upstream(settings.upstream_config()),
        max_body=settings.max_body_bytes,
        client_timeout=settings.client_timeout,
    )
    return app, sink


async def call(
    app: ProxyApp,
    path: bytes = b"/v1/x",
    headers: list[tuple[bytes, bytes]] | None = None,
    body: bytes = b"",
) -> list[dict[str, Any]]:
    scope = {
        "type": "http",
        "method": "POST",
        "path": path.decode("latin-1"),
        "raw_path": path,
        "query_string": b"",
        "headers": headers
        if headers is not None
        else [(b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 5000),
        "scheme": "http",
    }
    incoming = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def status_and_error(sent: list[dict[str, Any]]) -> tuple[int, str]:
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return sent[0]["status"], json.loads(body)["error"]["code"]


async def test_bad_target_is_400_audited_and_never_forwarded(settings: Settings) -> None:
    """An ambiguous path is answered 400 before any stage but audit runs."""
    forward = FakeUpstream(b"x")
    app, sink = app_with(settings, forward)
    assert status_and_error(await call(app, b"/health/%2e%2e/v1/chat")) == (400, "bad_target")
    assert forward.calls == 0
    [event] = sink.events
    assert (event.outcome, event.details["denied"]) == ("deny", "bad_target")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([(b"content-length", b"999999")], (413, "body_too_large")),
        ([(b"content-length", b"5"), (b"content-length", b"6")], (400, "bad_content_length")),
        ([(b"content-length", b"-1")], (400, "bad_content_length")),
        ([(b"content-length", b"\xd9\xa3")], (400, "bad_content_length")),
        ([(b"host", b"a"), (b"host", b"b")], (400, "duplicate_host")),
        ([(b"x-big", b"a" * MAX_HEADER_BYTES)], (431, "headers_too_large")),
    ],
)
async def test_bad_request_heads_are_answered_before_any_stage(
    settings: Settings, headers: list[tuple[bytes, bytes]], expected: tuple[int, str]
) -> None:
    """Oversized, conflicting or malformed lengths and heads are refused up front."""
    forward = FakeUpstream(b"x")
    app, _ = app_with(settings, forward)
    assert status_and_error(await call(app, headers=headers)) == expected
    assert forward.calls == 0


async def test_reply_streams_chunk_by_chunk_with_request_id(settings: Settings) -> None:
    """Each chunk is its own body message; the head carries X-Request-Id; cleanups run."""
    forward = FakeUpstream(b"a", b"b")
    app, sink = app_with(settings, forward)
    sent = await call(app, body=b"hi")
    assert sent[0]["status"] == 200
    assert (b"x-request-id", sink.events[0].request_id.encode()) in sent[0]["headers"]  # type: ignore[union-attr]
    assert [m["body"] for m in sent[1:]] == [b"a", b"b", b""]
    assert [m["more_body"] for m in sent[1:]] == [True, True, False]
    assert forward.cleaned == 1


async def test_a_response_stage_may_change_headers_at_the_first_chunk(settings: Settings) -> None:
    """The head is sent with the first chunk, so a header set then still reaches the client."""
    app, _ = app_with(settings, FakeUpstream(b"a"), LateHeader())
    sent = await call(app)
    assert (b"x-scanned", b"yes") in sent[0]["headers"]


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (Reject(504, "upstream_timeout", "slow"), (504, "upstream_timeout")),
        (ValueError("bug"), (500, "stage_failed")),
    ],
)
async def test_failure_before_the_first_chunk_is_a_clean_json_error(
    settings: Settings, error: Exception, expected: tuple[int, str]
) -> None:
    """Nothing was sent yet, so a failing stream becomes a JSON error, not a broken reply."""
    forward = FakeUpstream(error=error)
    app, _ = app_with(settings, forward)
    assert status_and_error(await call(app)) == expected
    assert forward.cleaned == 1


async def test_failure_mid_stream_aborts_instead_of_ending_cleanly(settings: Settings) -> None:
    """After the head went out, a broken stream raises so the server cuts the connection: the
    client must not mistake a truncated reply for a complete one."""
    forward = FakeUpstream(b"a", error=Reject(502, "upstream_broken", "gone"))
    app, sink = app_with(settings, forward)
    with pytest.raises(Reject):
        await call(app)
    assert forward.cleaned == 1
    assert sink.named("proxy.stream")[0].details["reason"] == "upstream_broken"


async def test_lifespan_shutdown_completes(settings: Settings) -> None:
    """The app answers lifespan startup and shutdown."""
    app, _ = app_with(settings)
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "lifespan"}, receive, send)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
