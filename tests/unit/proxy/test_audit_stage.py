"""Intent and Audit stages: a durable intent before forwarding, one outcome record per request
before the reply leaves; failures block, and a lost outcome closes the gate for good."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator

import pytest

from openclaw_secure_stack.audit.sink import AuditEvent, CapturingSink
from openclaw_secure_stack.proxy.audit import INTENT_NOTE, Audit, AuditGate, Intent
from openclaw_secure_stack.proxy.flow import Headers, Reject, Response
from openclaw_secure_stack.proxy.testing import make_flow


class BrokenSink:
    def write(self, event: AuditEvent) -> None:
        raise OSError("disk full")


class FailsAfter(CapturingSink):
    """Records the first `count` events, then fails like a disk that filled up."""

    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count

    def write(self, event: AuditEvent) -> None:
        if len(self.events) >= self.count:
            raise OSError("disk full")
        super().write(event)


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
    await Audit(AuditGate(sink))(flow)
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
    await Audit(AuditGate(sink))(flow)
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
    await Audit(AuditGate(sink))(flow)
    assert "secret-token-value-123" not in repr(sink.events)


async def test_unrecordable_request_is_blocked_with_503() -> None:
    """When the sink raises, the request is blocked (503 audit_unavailable), not passed."""
    flow = make_flow()
    flow.response = upstream_response(chunks(b"x"))
    with pytest.raises(Reject) as caught:
        await Audit(AuditGate(BrokenSink()))(flow)
    assert (caught.value.status, caught.value.code) == (503, "audit_unavailable")


async def test_clean_stream_adds_no_second_record() -> None:
    """A reply that streams to the end without findings leaves just the one record."""
    sink = CapturingSink()
    flow = make_flow()
    flow.response = upstream_response(chunks(b"a", b"b"))
    await Audit(AuditGate(sink))(flow)
    assert [c async for c in flow.response.body] == [b"a", b"b"]
    assert [e.event for e in sink.events] == ["proxy.request"]


async def test_broken_stream_is_recorded() -> None:
    """A stream that breaks mid-way adds a proxy.stream error record with the bytes sent."""
    sink = CapturingSink()
    flow = make_flow()
    flow.response = upstream_response(chunks(b"abc", error=Reject(502, "upstream_broken", "gone")))
    await Audit(AuditGate(sink))(flow)
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
    await Audit(AuditGate(sink))(flow)
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
    await Audit(AuditGate(sink))(flow)
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


@pytest.mark.parametrize(
    "chunks_in",
    [[], [b'{"messages":[]}'], [b'{"mess', b'ages"', b":[]}"]],
    ids=["no-body", "one-chunk", "three-chunks"],
)
async def test_intent_is_durable_and_describes_the_body_without_its_text(chunks_in) -> None:
    """The intent record (synced before the stage returns) has method, path, client, body size
    and digest, never the text; the body is then whole in memory with its length known."""
    sink = CapturingSink()
    chunked = len(chunks_in) > 1
    flow = make_flow(body=chunks_in, length=None if chunked else len(b"".join(chunks_in)))
    flow.actor = "alice"
    await Intent(AuditGate(sink))(flow)
    body = b"".join(chunks_in)
    [event] = sink.events
    assert (event.event, event.outcome, event.actor, event.request_id) == (
        "proxy.intent",
        "pending",
        "alice",
        "test-request-id",
    )
    assert sink.synced == [1]  # on disk before the stage returned
    assert event.details == {
        "method": "POST",
        "path": "/v1/chat/completions",
        "client": "127.0.0.1",
        "body_bytes": len(body),
        "body_sha256": hashlib.sha256(body).hexdigest(),
    }
    assert (flow.request.body.content, flow.request.body.length) == (body, len(body))
    assert flow.notes[INTENT_NOTE] == "recorded"
    if body:
        assert b"messages" not in repr(event).encode()


async def test_unrecordable_intent_is_503_and_not_marked() -> None:
    """A sink that cannot record the intent: 503 audit_unavailable; Forward would refuse."""
    flow = make_flow(body=[b"{}"])
    with pytest.raises(Reject) as caught:
        await Intent(AuditGate(BrokenSink()))(flow)
    assert (caught.value.status, caught.value.code) == (503, "audit_unavailable")
    assert INTENT_NOTE not in flow.notes


async def test_oversized_chunked_body_is_answered_before_any_intent() -> None:
    """A chunked body past the limit ends in the intent stage (413): no intent is recorded,
    so there is nothing the forwarder would send."""
    sink = CapturingSink()
    flow = make_flow(body=[b"x" * 3000, b"x" * 3000], length=None, limit=4096)
    with pytest.raises(Reject) as caught:
        await Intent(AuditGate(sink))(flow)
    assert (caught.value.status, caught.value.code) == (413, "body_too_large")
    assert (sink.events, INTENT_NOTE in flow.notes) == ([], False)


async def test_lost_outcome_after_forwarding_closes_the_gate() -> None:
    """An outcome record that fails after the intent (OpenClaw may have acted) closes the
    gate: every later request is refused (503) before its body is read, and /ready fails."""
    sink = FailsAfter(1)
    gate = AuditGate(sink)
    flow = make_flow(body=[b"{}"])
    await Intent(gate)(flow)
    flow.response = upstream_response(chunks(b"x"))
    with pytest.raises(Reject):
        await Audit(gate)(flow)
    assert gate.lost == "the outcome of request test-request-id could not be recorded"
    later = make_flow(body=[b"{}"])
    with pytest.raises(Reject) as caught:
        await Intent(gate)(later)
    assert (caught.value.status, caught.value.code) == (503, "audit_unavailable")
    assert later.request.body.content is None  # refused before reading anything
    with pytest.raises(RuntimeError, match="restart the proxy"):
        gate.check()
    assert [e.event for e in sink.events] == ["proxy.intent"]


async def test_lost_record_of_a_denied_request_leaves_the_gate_open() -> None:
    """A denial that never reached the forwarder cannot have acted: 503, the gate stays open."""
    gate = AuditGate(BrokenSink())
    flow = make_flow()
    flow.deny(401, "missing_token", "no token")
    with pytest.raises(Reject):
        await Audit(gate)(flow)
    assert gate.lost is None


async def test_lost_stream_record_closes_the_gate() -> None:
    """A proxy.stream record that cannot be written closes the gate for later requests."""
    sink = FailsAfter(2)
    gate = AuditGate(sink)
    flow = make_flow()
    await Intent(gate)(flow)
    flow.response = upstream_response(chunks(b"abc", error=Reject(502, "upstream_broken", "x")))
    await Audit(gate)(flow)
    with pytest.raises(Reject):
        [c async for c in flow.response.body]
    assert gate.lost is not None
    assert [e.event for e in sink.events] == ["proxy.intent", "proxy.request"]


class SlowSyncSink(CapturingSink):
    """Counts syncs; each takes a moment, as a disk flush does."""

    def sync(self) -> None:
        time.sleep(0.05)
        super().sync()


async def test_concurrent_intents_share_syncs_and_each_waits_for_one() -> None:
    """20 requests at once: each returns only after a sync that began after its write, and
    they share a few syncs (group commit) instead of one each."""
    sink = SlowSyncSink()
    gate = AuditGate(sink)
    flows = [make_flow(body=[b"{}"]) for _ in range(20)]
    await asyncio.gather(*(Intent(gate)(flow) for flow in flows))
    assert len(sink.events) == 20
    assert sink.synced[-1] == 20  # the last sync covers every record
    assert len(sink.synced) <= 3


async def test_failed_sync_is_503_for_every_waiting_request() -> None:
    """A sync that fails: every request waiting on it is refused, nothing marked forwardable."""

    class FailingSync(CapturingSink):
        def sync(self) -> None:
            raise OSError("I/O error")

    gate = AuditGate(FailingSync())
    flows = [make_flow(body=[b"{}"]) for _ in range(3)]
    results = await asyncio.gather(*(Intent(gate)(f) for f in flows), return_exceptions=True)
    assert [(type(r), getattr(r, "code", None)) for r in results] == [
        (Reject, "audit_unavailable")
    ] * 3
    assert not any(INTENT_NOTE in flow.notes for flow in flows)
