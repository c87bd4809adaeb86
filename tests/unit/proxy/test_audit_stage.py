"""Audit stage: one record per request before the reply leaves; failures block."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from openclaw_secure_stack.audit.sink import AuditEvent, CapturingSink
from openclaw_secure_stack.proxy.audit import Audit
from openclaw_secure_stack.proxy.flow import Headers, Reject, Response
from openclaw_secure_stack.proxy.testing import make_flow


class BrokenSink:
    def write(self, event: AuditEvent) -> None:
        raise OSError("disk full")


async def chunks(*parts: bytes, error: Exception | None = None) -> AsyncIterator[bytes]:
    for part in parts:
        yield part
    if error is not None:
        raise error


def upstream_response(body: AsyncIterator[bytes]) -> Response:
    return Response(200, Headers([("content-type", "text/event-stream")]), body, origin="upstream")


async def test_allowed_request_is_recorded_with_actor_and_status() -> None:
    """An allowed request gives one proxy.request record with actor, request id, path, status."""
    sink = CapturingSink()
    flow = make_flow("/v1/models", method="GET")
    flow.actor = "alice"
    flow.response = upstream_response(chunks(b"x"))
    await Audit(sink)(flow)
    [event] = sink.events
    assert (event.event, event.outcome, event.actor, event.request_id) == (
        "proxy.request",
        "allow",
        "alice",
        "test-request-id",
    )
    assert {k: event.details[k] for k in ("method", "path", "status")} == {
        "method": "GET",
        "path": "/v1/models",
        "status": 200,
    }


async def test_denial_is_recorded_with_its_code() -> None:
    """A denied request is a deny record carrying the denial code."""
    sink = CapturingSink()
    flow = make_flow()
    flow.deny(401, "missing_token", "no token")
    await Audit(sink)(flow)
    [event] = sink.events
    assert (event.outcome, event.details["denied"], event.details["status"]) == (
        "deny",
        "missing_token",
        401,
    )


async def test_records_never_hold_the_token() -> None:
    """The Authorization value never reaches the audit record."""
    sink = CapturingSink()
    flow = make_flow(headers=[("authorization", "Bearer secret-token-value-123")])
    flow.deny(403, "invalid_token", "bad")
    await Audit(sink)(flow)
    assert "secret-token-value-123" not in repr(sink.events)


async def test_unrecordable_request_is_blocked_with_503() -> None:
    """When the sink raises, the request is blocked (503 audit_unavailable), not passed."""
    flow = make_flow()
    flow.response = upstream_response(chunks(b"x"))
    with pytest.raises(Reject) as caught:
        await Audit(BrokenSink())(flow)
    assert (caught.value.status, caught.value.code) == (503, "audit_unavailable")


async def test_clean_stream_adds_no_second_record() -> None:
    """A reply that streams to the end without findings leaves just the one record."""
    sink = CapturingSink()
    flow = make_flow()
    flow.response = upstream_response(chunks(b"a", b"b"))
    await Audit(sink)(flow)
    assert [c async for c in flow.response.body] == [b"a", b"b"]
    assert [e.event for e in sink.events] == ["proxy.request"]


async def test_broken_stream_is_recorded() -> None:
    """A stream that breaks mid-way adds a proxy.stream error record with the bytes sent."""
    sink = CapturingSink()
    flow = make_flow()
    flow.response = upstream_response(chunks(b"abc", error=Reject(502, "upstream_broken", "gone")))
    await Audit(sink)(flow)
    with pytest.raises(Reject):
        [c async for c in flow.response.body]
    [end] = sink.named("proxy.stream")
    assert (end.outcome, end.details["reason"], end.details["bytes"]) == (
        "error",
        "upstream_broken",
        3,
    )


async def test_findings_added_while_streaming_are_recorded() -> None:
    """Findings a response stage adds during the stream land in a proxy.stream record."""
    sink = CapturingSink()
    flow = make_flow()

    async def flagging() -> AsyncIterator[bytes]:
        yield b"chunk"
        flow.findings.append({"rule": "IND-001", "severity": "high"})

    flow.response = upstream_response(flagging())
    await Audit(sink)(flow)
    [c async for c in flow.response.body]
    [end] = sink.named("proxy.stream")
    assert end.outcome == "flagged"
    assert end.details["findings"] == [{"rule": "IND-001", "severity": "high"}]


@pytest.mark.parametrize("how", ["closed", "cancelled"])
async def test_findings_survive_a_client_that_leaves(how: str) -> None:
    """A client that leaves right after a flagged chunk (the body is closed, or the task is
    cancelled by the disconnect watcher) still leaves a proxy.stream record with the findings."""
    sink = CapturingSink()
    flow = make_flow()

    async def flagged_then_more() -> AsyncIterator[bytes]:
        flow.findings.append({"rule": "OSS-IND-001", "severity": "high"})
        yield b"injected event"
        await asyncio.sleep(3600)
        yield b"never"

    flow.response = upstream_response(flagged_then_more())
    await Audit(sink)(flow)
    body = aiter(flow.response.body)
    assert await anext(body) == b"injected event"
    if how == "closed":
        await body.aclose()  # type: ignore[attr-defined]
    else:
        flow.notes["client_gone"] = True
        waiting = asyncio.ensure_future(anext(body))
        await asyncio.sleep(0)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
    [end] = sink.named("proxy.stream")
    assert end.outcome == "error"
    assert end.details["findings"] == [{"rule": "OSS-IND-001", "severity": "high"}]
