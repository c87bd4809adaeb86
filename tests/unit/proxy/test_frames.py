"""Frames stage: the guard a WebSocket's client frames pass; it fails closed."""

from __future__ import annotations

import json

import pytest

from openclaw_secure_stack import resources
from openclaw_secure_stack.audit.sink import AuditEvent, AuditSink, CapturingSink
from openclaw_secure_stack.detect import Detector, load_detector
from openclaw_secure_stack.proxy.audit import AuditGate, Intent
from openclaw_secure_stack.proxy.flow import Reject
from openclaw_secure_stack.proxy.forward import Forward
from openclaw_secure_stack.proxy.frames import FrameGuard, Frames, chat_send_message
from openclaw_secure_stack.proxy.sanitize import Scanner
from openclaw_secure_stack.proxy.testing import TEST_GATEWAY_TOKEN, make_flow
from openclaw_secure_stack.proxy.upstream import Upstream
from openclaw_secure_stack.settings import Settings

CONNECT = json.dumps(
    {
        "type": "req",
        "id": "c",
        "method": "connect",
        "params": {"client": {"id": "cli", "mode": "cli"}},
    }
)
SEND = json.dumps(
    {
        "type": "req",
        "id": "s",
        "method": "chat.send",
        "params": {"sessionKey": "oss:alice:m", "message": "hi"},
    }
)


@pytest.fixture(scope="module")
def detector() -> Detector:
    return load_detector(resources.PROMPT_RULES, resources.INDIRECT_RULES)


class BrokenSink:
    def write(self, event: AuditEvent) -> None:
        raise OSError("disk full")


def guard(detector: Detector, sink: AuditSink) -> FrameGuard:
    return FrameGuard(
        Scanner(detector, "frames"),
        AuditGate(sink),
        TEST_GATEWAY_TOKEN,
        4096,
        1 << 20,
        "alice",
        "r",
    )


async def test_a_frame_that_cannot_be_audited_is_not_forwarded(detector: Detector) -> None:
    """With the audit log failing, connect and chat.send close the socket (1011) unforwarded."""
    broken = guard(detector, BrokenSink())
    action = await broken.check(CONNECT, None)
    assert (action.forward, action.close) == (None, 1011)
    working = guard(detector, CapturingSink())
    assert (await working.check(CONNECT, None)).forward is not None
    working.gate = AuditGate(BrokenSink())
    action = await working.check(SEND, None)
    assert (action.forward, action.close) == (None, 1011)


async def test_a_frame_is_forwarded_only_once_its_record_is_synced(detector: Detector) -> None:
    """connect and chat.send are forwarded after a sync that covers their allow record."""
    sink = CapturingSink()
    working = guard(detector, sink)
    for frame in (CONNECT, SEND):
        assert (await working.check(frame, None)).forward is not None
        assert sink.synced[-1] == len(sink.events)
    assert [e.outcome for e in sink.named("proxy.ws_frame")] == ["allow", "allow"]


async def test_a_relayed_method_that_cannot_be_audited_is_not_forwarded(detector: Detector) -> None:
    """chat.history and health close the socket (1011) unforwarded when their record fails."""
    working = guard(detector, CapturingSink())
    assert (await working.check(CONNECT, None)).forward is not None
    working.gate = AuditGate(BrokenSink())
    history = {"type": "req", "id": "h", "method": "chat.history"}
    for frame in (
        {**history, "params": {"sessionKey": "oss:alice:m"}},
        {**history, "method": "health"},
    ):
        action = await working.check(json.dumps(frame), None)
        assert (action.forward, action.close) == (None, 1011)


async def test_a_closed_gate_forwards_no_frame(detector: Detector) -> None:
    """Once an outcome is lost, every frame closes the socket (1011), whatever its method."""
    working = guard(detector, CapturingSink())
    assert (await working.check(CONNECT, None)).forward is not None
    working.gate.close("lost")
    history = json.dumps({"type": "req", "id": "h", "method": "health", "params": {}})
    for frame in (SEND, history, "not json"):
        action = await working.check(frame, None)
        assert (action.forward, action.reply, action.close) == (None, None, 1011)


async def test_frames_stage_guards_websockets_only(detector: Detector, settings: Settings) -> None:
    """A WebSocket flow gets a guard bound to its actor and request id; HTTP flows get none."""
    stage = Frames(
        detector,
        AuditGate(CapturingSink()),
        Upstream(settings.upstream_config()),
        thread_threshold=1024,
    )
    ws_flow, http_flow = make_flow("/", method="GET", websocket=True), make_flow()
    ws_flow.actor = "alice"
    await stage(ws_flow)
    await stage(http_flow)
    assert isinstance(ws_flow.frames, FrameGuard)
    assert (ws_flow.frames.actor, ws_flow.frames.request_id) == ("alice", ws_flow.request_id)
    assert http_flow.frames is None


async def test_forward_refuses_a_websocket_nothing_guards(settings: Settings) -> None:
    """Without a frame guard the forwarder does not open the tunnel: 503, fail closed."""
    flow = make_flow("/ws", method="GET", websocket=True)
    await Intent(AuditGate(CapturingSink()))(flow)  # audited, so only the guard is missing
    with pytest.raises(Reject) as info:
        await Forward(Upstream(settings.upstream_config()))(flow)
    assert (info.value.status, info.value.code) == (503, "websocket_unguarded")
    assert flow.tunnel is None


@pytest.mark.parametrize(
    ("sent", "seen"),
    [
        ("a\x0bb\x0cc", "abc"),
        ("".join(map(chr, range(1, 9))) + "x\x0e\x1f\x7f", "x"),
        ("tab\tnew\nline\rend", "tab\tnew\nline\rend"),
        ("cafe\u0301 \u212b", "caf\u00e9 \u00c5"),
        ("\x85\u200b\ufeff", "\x85\u200b\ufeff"),
    ],
)
def test_chat_send_message_is_what_openclaw_reads(sent: str, seen: str) -> None:
    """NFC, and only the controls OpenClaw deletes are removed (tab and line breaks stay)."""
    assert chat_send_message(sent) == seen


@pytest.mark.parametrize("sent", ["a\x00b", 5, None])
def test_chat_send_message_refuses_what_openclaw_refuses(sent: object) -> None:
    """A NUL (OpenClaw refuses it) or a non-string message is a Reject, not a forward."""
    with pytest.raises(Reject):
        chat_send_message(sent)
