"""Probes stage: the proxy answers `/health` (alive) and `/ready` (OpenClaw and the audit log are
usable) itself. Both are exact auth-exempt paths; they are never forwarded."""

from __future__ import annotations

from typing import ClassVar, Protocol, runtime_checkable

from openclaw_secure_stack.audit.sink import AuditSink
from openclaw_secure_stack.proxy.flow import Flow, Response
from openclaw_secure_stack.proxy.upstream import Upstream


@runtime_checkable
class CheckableSink(Protocol):
    def check(self) -> None:
        """Raise if the sink cannot record."""


class Probes:
    name: ClassVar[str] = "probes"
    sees_answered: ClassVar[bool] = False

    def __init__(self, upstream: Upstream, audit: AuditSink) -> None:
        self._upstream = upstream
        self._audit = audit

    async def __call__(self, flow: Flow) -> None:
        if flow.request.path in ("/health", "/ready") and flow.request.websocket:
            # Exempt from auth because answered here: such a path must never reach OpenClaw.
            flow.deny(400, "not_websocket", f"{flow.request.path} does not accept WebSockets")
        elif flow.request.path == "/health":
            flow.response = Response.json(200, {"status": "ok"})
        elif flow.request.path == "/ready":
            problems = [f"upstream {reason}" for reason in [await self._upstream.ready()] if reason]
            problems += [f"audit log {reason}" for reason in [self._audit_problem()] if reason]
            if problems:
                flow.response = Response.error(503, "not_ready", "; ".join(problems))
            else:
                flow.response = Response.json(200, {"status": "ready"})

    def _audit_problem(self) -> str | None:
        if not isinstance(self._audit, CheckableSink):
            return None
        try:
            self._audit.check()
        except Exception as exc:
            return f"unusable ({type(exc).__name__}: {exc})"
        return None
