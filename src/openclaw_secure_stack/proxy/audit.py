"""Audit before effect: an intent record is durable before anything reaches OpenClaw, and every
request ends in an outcome record, or the proxy stops taking traffic.

- `Intent` (just before `Forward`): reads the whole body (capped by MAX_BODY_BYTES, so a client
  that leaves or stalls mid-body, or sends a bad chunk, is answered and audited with nothing
  sent upstream), then writes a `proxy.intent` record (method, path, client, body size and
  SHA-256, never the text) and waits until it is on disk. A log that cannot record: 503,
  nothing forwarded.
- `Audit` (last): one `proxy.request` record per request (the outcome), written before the
  reply's first byte leaves, so a log that cannot record blocks the reply (503). A second
  `proxy.stream` record follows only when something happens while the reply streams: the
  stream breaks, the client leaves, or a response stage adds findings.

When an outcome cannot be recorded after OpenClaw may have acted, the shared `AuditGate` closes:
this worker refuses every further request (503) and reports not ready until it is restarted,
rather than run unaudited.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import ClassVar

from openclaw_secure_stack.audit.sink import AuditEvent, AuditSink
from openclaw_secure_stack.proxy.flow import Flow, Reject

log = logging.getLogger(__name__)

# Set by `Intent` once the intent record is durable; `Forward` refuses to send without it.
INTENT_NOTE = "intent"


class AuditGate:
    """The audit sink shared by `Intent` and `Audit`, closed for good once an outcome is lost.

    `write_durable` syncs through the sink's `sync()` (if it has one) in a worker thread, so the
    event loop keeps serving while the disk flushes, and as a group commit: requests that
    arrive while a sync runs share the next one (a sync covers every record written before it
    starts). Measured with fdatasync inline on the loop instead, saturated throughput fell to a
    fraction: every request waited for every other request's flush.
    """

    def __init__(self, sink: AuditSink) -> None:
        self.sink = sink
        self.lost: str | None = None  # why the gate closed
        self._sync: Callable[[], None] | None = getattr(sink, "sync", None)
        self._next: asyncio.Future[None] | None = None  # the sync that has not started yet
        self._runner: asyncio.Task[None] | None = None

    def write(self, event: AuditEvent) -> None:
        self.sink.write(event)

    async def write_durable(self, event: AuditEvent) -> None:
        """Write `event` and return once it is on disk; raise if either fails."""
        self.sink.write(event)
        if self._sync is None:
            return
        loop = asyncio.get_running_loop()
        if self._next is None:
            self._next = loop.create_future()
        if self._runner is None or self._runner.done():
            self._runner = loop.create_task(self._run_syncs(self._sync))
        await asyncio.shield(self._next)  # a client leaving must not cancel the others' sync

    async def _run_syncs(self, sync: Callable[[], None]) -> None:
        while self._next is not None:
            batch, self._next = self._next, None
            try:
                await asyncio.to_thread(sync)
            except Exception as exc:
                batch.set_exception(exc)
                batch.exception()  # retrieved here too, in case every waiter left
            else:
                batch.set_result(None)

    def close(self, request_id: str) -> None:
        log.critical(
            "the outcome of request %s could not be audited: refusing all traffic", request_id
        )
        self.lost = f"the outcome of request {request_id} could not be recorded"

    def check(self) -> None:
        """Raise if the gate is closed or the sink cannot record (for `/ready`)."""
        if self.lost is not None:
            raise RuntimeError(f"{self.lost}; restart the proxy once the audit log works")
        check = getattr(self.sink, "check", None)
        if check is not None:
            check()


class Intent:
    name: ClassVar[str] = "intent"
    sees_answered: ClassVar[bool] = False

    def __init__(self, gate: AuditGate) -> None:
        self._gate = gate

    async def __call__(self, flow: Flow) -> None:
        if self._gate.lost is not None:
            raise Reject(
                503, "audit_unavailable", "the proxy stopped: an outcome could not be audited"
            )
        body = await flow.request.body.read()
        details: dict[str, object] = {
            "method": flow.request.method,
            "path": flow.request.path,
            "client": flow.request.client,
            "body_bytes": len(body),
            "body_sha256": hashlib.sha256(body).hexdigest(),
        }
        if flow.request.websocket:
            details["websocket"] = True
        event = AuditEvent("proxy.intent", "pending", flow.actor, flow.request_id, details)
        try:
            await self._gate.write_durable(event)
        except Exception as exc:
            log.exception("audit log cannot record the intent of request %s", flow.request_id)
            raise Reject(
                503, "audit_unavailable", "the audit log cannot record; nothing was forwarded"
            ) from exc
        flow.notes[INTENT_NOTE] = "recorded"


class Audit:
    name: ClassVar[str] = "audit"
    sees_answered: ClassVar[bool] = True

    def __init__(self, gate: AuditGate) -> None:
        self._gate = gate

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
            self._gate.write(
                AuditEvent("proxy.request", outcome, flow.actor, flow.request_id, details)
            )
        except Exception as exc:
            log.exception("audit log cannot record request %s", flow.request_id)
            if INTENT_NOTE in flow.notes:
                self._gate.close(flow.request_id)  # OpenClaw may have acted on it
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
            self._gate.write(
                AuditEvent("proxy.stream", outcome, flow.actor, flow.request_id, details)
            )
        except Exception:
            # The reply is already under way: this one cannot be blocked any more, the next ones
            # are.
            log.exception("audit log cannot record the end of request %s", flow.request_id)
            self._gate.close(flow.request_id)
