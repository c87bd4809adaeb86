"""Frames stage: every client frame of an authorized WebSocket is judged before OpenClaw sees it.

OpenClaw's gateway protocol (`docs/gateway/protocol/transport.md`, `dist/message-handler-*.mjs`):
text frames of JSON, requests `{type: "req", id, method, params}`, and the first one must be
`connect`. OpenClaw also parses binary frames as JSON text; the proxy does not relay those.
The guard, per client frame:
- larger than `max_frame_bytes`, binary, not JSON, not a request, or anything before `connect`:
  the socket is closed (1009 too big, 1003 binary, 1008 otherwise), as OpenClaw itself does;
- `connect`: only operator clients (no node hosts or workers); the proxy puts its own gateway
  token in `params.auth` and asks for read and write scopes only (the client never holds
  OpenClaw's credentials, as over HTTP); client device identities are dropped (they would carry
  their own authority);
- a method outside `ALLOWED_METHODS`: refused with an error response frame (`FORBIDDEN`,
  `details.code: "method_not_allowed"`), the socket stays open;
- `chat.send`, `chat.history`, `chat.abort`: `params.sessionKey` must lie in the caller's
  namespace (`oss:<client>:...`, see `session.py`), else `FORBIDDEN` with
  `details.code: "foreign_session"`: one client never reaches another's session. For the same
  reason `sessions.list` (every client's sessions) and `chat.send`'s `sessionId` (a session
  chosen around its key) are not accepted;
- `chat.send`: only the parameters in `CHAT_SEND_PARAMS`; `params.message` is scanned like a user
  turn over HTTP (direct rules and the classifier; strip rewrites it and rescans; reject answers
  `FORBIDDEN` with `details.code: "prompt_injection"` and the rule ids).
Every frame relayed or refused is audited as `proxy.ws_frame` (method, outcome, findings;
never the text), durably (synced) before the frame is forwarded; a frame whose record cannot be
written is not forwarded and the socket closes. Once the audit gate has closed (an outcome went
unrecorded, see `audit.py`), every later frame closes its socket (1011), unforwarded.
"""

from __future__ import annotations

import asyncio
import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from openclaw_secure_stack.audit.sink import AuditEvent
from openclaw_secure_stack.detect import Detector
from openclaw_secure_stack.proxy.audit import AuditGate
from openclaw_secure_stack.proxy.flow import Flow, FrameAction, Reject
from openclaw_secure_stack.proxy.prompt import Field, Rope, Scanned
from openclaw_secure_stack.proxy.sanitize import Outcome, Scanner, strict_json
from openclaw_secure_stack.proxy.session import client_label, owns
from openclaw_secure_stack.proxy.upstream import Upstream

# What a chat client of the stack needs; every other gateway method (config, exec approvals,
# node invoke, session injection, ...) carries authority or text the proxy does not judge.
ALLOWED_METHODS = frozenset({"chat.send", "chat.history", "chat.abort", "models.list", "health"})
# Methods that act on the session named by `params.sessionKey`: it must be the caller's.
SESSION_METHODS = frozenset({"chat.send", "chat.history", "chat.abort"})
CHAT_SEND_PARAMS = frozenset(
    {
        "sessionKey",
        "agentId",
        "message",
        "thinking",
        "queueMode",
        "timeoutMs",
        "idempotencyKey",
        "expectedLeafEntryId",
    }
)
CLIENT_SCOPES = ["operator.read", "operator.write"]
# Node hosts and workers (`GATEWAY_CLIENT_MODES` / `_IDS`, dist/client-info-*.mjs) take work
# from the gateway; they are not clients of the stack.
NODE_MODES = frozenset({"node", "worker"})
NODE_CLIENT_IDS = frozenset({"node-host", "openclaw-worker"})
MAX_ID_CHARS = 128  # OpenClaw's own limits on a request frame
MAX_METHOD_CHARS = 64
_DELETED_CONTROLS = dict.fromkeys([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])


def chat_send_message(message: object) -> str:
    """`params.message` as OpenClaw's `sanitizeChatSendMessageInput` (dist/chat-broadcast-*.mjs)
    hands it on: NFC, then the control characters in `_DELETED_CONTROLS` removed; a NUL is
    refused, as OpenClaw refuses it. The rules read most of those controls as spaces, so the
    message is scanned (and forwarded) in this form: `<|im_` VT `start|>` is `<|im_start|>` to
    OpenClaw."""
    if not isinstance(message, str):
        raise Reject(400, "invalid_frame", "chat.send needs a string params.message")
    normalized = unicodedata.normalize("NFC", message)
    if "\0" in normalized:
        raise Reject(400, "invalid_frame", "chat.send's message must not contain null bytes")
    return normalized.translate(_DELETED_CONTROLS)


def chat_send_texts(params: dict[str, Any]) -> list[Scanned]:
    """`chat.send`'s message, scanned as a user turn: rules on it, and the classifier."""
    if not isinstance(params.get("message"), str):
        raise Reject(400, "invalid_frame", "chat.send needs a string params.message")

    def put(new: str) -> None:
        params["message"] = new

    message = Rope.of(Field("params.message", params["message"], put))
    return [Scanned("prompt", "direct", message), Scanned("turn", "classifier", message)]


@dataclass
class FrameGuard:
    """The judgement of one WebSocket's client frames (see the module docstring)."""

    scanner: Scanner
    gate: AuditGate
    gateway_token: str
    max_frame_bytes: int
    thread_threshold: int
    actor: str | None
    request_id: str
    connected: bool = False

    async def check(self, text: str | None, data: bytes | None) -> FrameAction:
        if self.gate.lost is not None:
            # An outcome went unrecorded since this socket opened: the proxy takes no traffic.
            return FrameAction(close=1011, reason="audit log unavailable")
        if text is None:
            return await self._close(1003, "binary frames are not accepted", None, data)
        if len(text) > self.max_frame_bytes or len(text.encode()) > self.max_frame_bytes:
            return await self._close(1009, "frame too large", None, None)
        try:
            frame = strict_json(text)
        except ValueError:
            return await self._close(1008, "invalid frame", None, None)
        request = _request(frame)
        if request is None:
            return await self._close(1008, "invalid frame", None, None)
        frame, method = request
        if not self.connected:
            return (
                await self._connect(frame)
                if method == "connect"
                else await self._close(1008, "the first request must be connect", method, None)
            )
        if method not in ALLOWED_METHODS:
            error = {"code": "method_not_allowed", "method": method}
            return await self._refuse(frame, f"{method} is not available through the proxy", error)
        if method in SESSION_METHODS and not self._owns(frame.get("params")):
            label = client_label(self.actor or "")
            message = f"that session belongs to another client; use oss:{label}:<name>"
            return await self._refuse(frame, message, {"code": "foreign_session"})
        if method != "chat.send":
            if not await self._record(method, "allow", {}):
                return FrameAction(close=1011, reason="audit log unavailable")
            return FrameAction(forward=text)
        return await self._chat_send(frame)

    def _owns(self, params: object) -> bool:
        key = params.get("sessionKey") if isinstance(params, dict) else None
        return isinstance(key, str) and self.actor is not None and owns(self.actor, key)

    async def _connect(self, frame: dict[str, Any]) -> FrameAction:
        params = frame.get("params")
        client = params.get("client") if isinstance(params, dict) else None
        if (
            not isinstance(params, dict)
            or params.get("role", "operator") != "operator"
            or not isinstance(client, dict)
            or client.get("mode") in NODE_MODES
            or client.get("id") in NODE_CLIENT_IDS
        ):
            return await self._close(
                1008, "only operator connections are accepted", "connect", None
            )
        params.pop("device", None)
        params["auth"] = {"token": self.gateway_token}
        params["scopes"] = list(CLIENT_SCOPES)
        if not await self._record("connect", "allow", {}):
            return FrameAction(close=1011, reason="audit log unavailable")
        self.connected = True
        return FrameAction(forward=json.dumps(frame))

    async def _chat_send(self, frame: dict[str, Any]) -> FrameAction:
        params = frame.get("params")
        if not isinstance(params, dict):
            return await self._refuse(frame, "chat.send needs params", {"code": "invalid_params"})
        extra = sorted(set(params) - CHAT_SEND_PARAMS)
        if extra:
            details = {"code": "unsupported_params", "params": extra[:10]}
            return await self._refuse(
                frame, "chat.send parameters not accepted: " + ", ".join(extra[:10]), details
            )
        try:
            params["message"] = chat_send_message(params.get("message"))
            if len(params["message"]) > self.thread_threshold:
                outcome = await asyncio.to_thread(self.scanner.settle, params, chat_send_texts)
            else:
                outcome = self.scanner.settle(params, chat_send_texts)
        except Reject as exc:
            return await self._refuse(frame, exc.message, {"code": exc.code})
        if outcome.decision == "reject":
            error = {"code": "prompt_injection", "rules": outcome.rules}
            return await self._refuse(frame, outcome.reason, error, outcome)
        if not await self._record("chat.send", "allow", _summary(outcome)):
            return FrameAction(close=1011, reason="audit log unavailable")
        return FrameAction(forward=json.dumps(frame))

    async def _refuse(
        self,
        frame: dict[str, Any],
        message: str,
        details: Mapping[str, object],
        outcome: Outcome | None = None,
    ) -> FrameAction:
        recorded = {**details, **(_summary(outcome) if outcome else {})}
        if not await self._record(str(frame.get("method")), "deny", recorded):
            return FrameAction(close=1011, reason="audit log unavailable")
        error = {"code": "FORBIDDEN", "message": message, "details": details}
        reply = {"type": "res", "id": frame.get("id"), "ok": False, "error": error}
        return FrameAction(reply=json.dumps(reply))

    async def _close(
        self, code: int, reason: str, method: str | None, data: bytes | None
    ) -> FrameAction:
        details: dict[str, object] = {"closed": code, "reason": reason}
        if method is not None:
            details["method"] = method
        if data is not None:
            details["bytes"] = len(data)
        await self._record(method or "", "deny", details)
        return FrameAction(close=code, reason=reason)

    async def _record(self, method: str, outcome: str, details: dict[str, object]) -> bool:
        """Write the frame's record and wait until it is on disk (a frame acts on OpenClaw like a
        request: its record is durable first); False if it cannot be."""
        try:
            await self.gate.write_durable(
                AuditEvent(
                    "proxy.ws_frame",
                    outcome,
                    self.actor,
                    self.request_id,
                    {"method": method[:MAX_METHOD_CHARS], **details},
                )
            )
        except Exception:
            return False
        return True


def _request(frame: object) -> tuple[dict[str, Any], str] | None:
    """A well-formed request frame and its method, else None."""
    if not isinstance(frame, dict) or frame.get("type") != "req":
        return None
    frame_id, method = frame.get("id"), frame.get("method")
    if not isinstance(frame_id, str) or not isinstance(method, str):
        return None
    if len(frame_id) > MAX_ID_CHARS or len(method) > MAX_METHOD_CHARS:
        return None
    return frame, method


def _summary(outcome: Outcome) -> dict[str, object]:
    summary: dict[str, object] = {"sanitize": outcome.decision}
    if outcome.findings:
        summary["findings"] = outcome.findings
    return summary


class Frames:
    """Gives every authorized WebSocket flow its `FrameGuard` (the tunnel refuses to run
    without one)."""

    name: ClassVar[str] = "frames"
    sees_answered: ClassVar[bool] = False

    def __init__(
        self, detector: Detector, gate: AuditGate, upstream: Upstream, *, thread_threshold: int
    ) -> None:
        self._scanner = Scanner(detector, "frames")
        self._gate = gate
        self._upstream = upstream
        self._thread_threshold = thread_threshold

    async def __call__(self, flow: Flow) -> None:
        if not flow.request.websocket:
            return
        flow.frames = FrameGuard(
            self._scanner,
            self._gate,
            self._upstream.gateway_token,
            self._upstream.max_message_bytes,
            self._thread_threshold,
            flow.actor,
            flow.request_id,
        )
