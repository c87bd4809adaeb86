"""Audit stage (last): one `proxy.request` record per request, written before the reply's first
byte leaves, so a log that cannot record blocks the request (503) instead of losing the event.

A second `proxy.stream` record follows only when something happens while the reply streams: the
stream breaks, the client leaves, or a response stage adds findings.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterable, AsyncIterator
from typing import ClassVar

from openclaw_secure_stack.audit.sink import AuditEvent, AuditSink
from openclaw_secure_stack.proxy.flow import Flow, Reject

log = logging.getLogger(__name__)


class Audit:
    name: ClassVar[str] = "audit"
    sees_answered: ClassVar[bool] = True

    def __init__(self, sink: AuditSink) -> None:
        self._sink = sink

    async def __call__(self, flow: Flow) -> None:
        response = flow.response
        status = response.status if response else 101 if flow.tunnel else 500
        details: dict[str, object] = {
            "method": flow.request.method,
            "path": flow.request.path,
            "status": status,
            "client": flow.request.client,
        }
        if flow.request.websocket:
            details["websocket"] = True
        if flow.findings:
            details["findings"] = list(flow.findings)
        details.update(flow.notes)
        outcome = "deny" if "denied" in flow.notes else "allow"
        try:
            self._sink.write(
                AuditEvent("proxy.request", outcome, flow.actor, flow.request_id, details)
            )
        except Exception as exc:
            log.exception("audit log cannot record request %s", flow.request_id)
            raise Reject(
                503, "audit_unavailable", "the audit log cannot record; request blocked"
            ) from exc
        if response is not None and response.origin == "upstream":
            response.body = self._watch(flow, response.body)

    async def _watch(self, flow: Flow, body: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
        findings_before = len(flow.findings)
        sent = 0
        try:
            async for chunk in body:
                yield chunk
                sent += len(chunk)
        except BaseException as exc:
            if flow.notes.get("client_gone"):
                reason = "client_gone"
            else:
                reason = exc.code if isinstance(exc, Reject) else type(exc).__name__
            details: dict[str, object] = {"reason": reason, "bytes": sent}
            if len(flow.findings) > findings_before:
                # What was scanned before the client left (or the reply broke) is still a finding.
                details["findings"] = list(flow.findings[findings_before:])
            self._stream_event(flow, "error", details)
            raise
        if len(flow.findings) > findings_before:
            details = {"bytes": sent, "findings": list(flow.findings[findings_before:])}
            self._stream_event(flow, "flagged", details)

    def _stream_event(self, flow: Flow, outcome: str, details: dict[str, object]) -> None:
        details["duration_ms"] = round((time.monotonic() - flow.started) * 1000, 1)
        try:
            self._sink.write(
                AuditEvent("proxy.stream", outcome, flow.actor, flow.request_id, details)
            )
        except Exception:
            # The reply is already under way: nothing left to block; make the loss visible.
            log.exception("audit log cannot record the end of request %s", flow.request_id)
