"""Approvals from the phone: when governance needs a person's approval for a call, the configured
approvers get the question with Approve / Deny buttons (Telegram inline keyboard, WhatsApp reply
buttons), and a press becomes the decision.

- Each question gets one random nonce (128 bits); the buttons carry `approve:<nonce>` and
  `deny:<nonce>` (Telegram allows 64 bytes of `callback_data`). The nonce is single use (the first
  accepted press decides, later presses are told it is decided), expires with the question, and
  is bound to its approval id, so a press cannot decide another call.
- Only a configured approver may press (`TELEGRAM_APPROVERS`, `WHATSAPP_APPROVERS`), never the
  person whose message started the call (approver != requester). Every press, accepted or
  refused, is audited as `webhook.approval`.
- The decision goes to governance through `ApprovalResolver`, the seam to the governance engine
  (another part of the stack). Questions are kept in this worker's memory: with several proxy
  workers, a press may reach a worker that did not ask, and is refused as unknown (fail closed).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from openclaw_secure_stack.audit.sink import AuditEvent, AuditSink
from openclaw_secure_stack.webhooks.messages import Inbound
from openclaw_secure_stack.webhooks.platforms import Platform

APPROVE, DENY = "approve", "deny"
TITLE_CHARS = 1000


class ApprovalResolver(Protocol):
    async def resolve(self, approval_id: str, approved: bool, approver: str) -> None:
        """Record the decision; raise if governance cannot take it (the presser is told)."""


@dataclass(frozen=True)
class ApprovalRequest:
    """What governance asks: `approval_id` is its own id for the pending call; `requester` is
    `<platform>:<sender>` when the call started from a phone message."""

    approval_id: str
    title: str
    description: str
    expires_in: float
    requester: str | None = None


@dataclass
class _Pending:
    request: ApprovalRequest
    expires: float


class PhoneApprovals:
    def __init__(
        self,
        platforms: Mapping[str, Platform],
        approvers: Mapping[str, frozenset[str]],
        audit: AuditSink,
        clock: Callable[[], float],
    ) -> None:
        self._platforms = platforms
        self._approvers = approvers
        self._resolver: ApprovalResolver | None = None
        self._audit = audit
        self._clock = clock
        self._pending: dict[str, _Pending] = {}

    def connect(self, resolver: ApprovalResolver) -> None:
        """Where decisions go: the governance engine calls this when it is wired in."""
        self._resolver = resolver

    async def ask(self, request: ApprovalRequest) -> int:
        """Send the question with its buttons to every approver; returns how many got it."""
        if self._resolver is None:
            raise RuntimeError("no approval resolver is connected; cannot ask for approval")
        now = self._clock()
        self._pending = {k: p for k, p in self._pending.items() if p.expires > now}
        nonce = secrets.token_hex(16)
        self._pending[nonce] = _Pending(request, now + request.expires_in)
        text = f"Approval needed: {request.title}\n\n{request.description}"[:TITLE_CHARS]
        buttons = [("Approve", f"{APPROVE}:{nonce}"), ("Deny", f"{DENY}:{nonce}")]
        sent = 0
        for name, platform in self._platforms.items():
            for approver in sorted(self._approvers.get(name, frozenset())):
                await platform.send_buttons(approver, text, buttons)
                sent += 1
        self._record("asked", request.approval_id, {"approvers": sent})
        return sent

    async def press(self, message: Inbound) -> str:
        """Decide on a button press; returns what the presser is told. Refusals are audited."""
        verdict, _, nonce = message.text.partition(":")
        pending = self._pending.get(nonce) if verdict in (APPROVE, DENY) else None
        presser = f"{message.platform}:{message.sender}"
        details: dict[str, object] = {"presser": presser, "button": verdict[:16]}
        if pending is None or pending.expires <= self._clock():
            return self._refuse(None, details, "unknown_or_expired", "No approval is waiting.")
        approval_id = pending.request.approval_id
        if message.sender not in self._approvers.get(message.platform, frozenset()):
            return self._refuse(approval_id, details, "not_an_approver", "You cannot approve.")
        if presser == pending.request.requester:
            reason, note = "requester", "You cannot approve your own request."
            return self._refuse(approval_id, details, reason, note)
        del self._pending[nonce]  # single use, before awaiting anything
        if self._resolver is None:
            return self._refuse(approval_id, details, "no_resolver", "Approvals are not connected.")
        approved = verdict == APPROVE
        try:
            await self._resolver.resolve(approval_id, approved, presser)
        except Exception as exc:
            details["error"] = type(exc).__name__
            return self._refuse(approval_id, details, "resolver_failed", "The decision was lost.")
        self._record("approved" if approved else "denied", approval_id, details)
        return "Approved." if approved else "Denied."

    def _refuse(
        self, approval_id: str | None, details: dict[str, object], reason: str, note: str
    ) -> str:
        self._record("refused", approval_id, {**details, "reason": reason})
        return note

    def _record(self, outcome: str, approval_id: str | None, details: dict[str, object]) -> None:
        details = {**details, "approval_id": approval_id}
        self._audit.write(AuditEvent("webhook.approval", outcome, None, None, details))
