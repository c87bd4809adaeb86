"""The approval desk: what every approval channel (REST, CLI, later the chat relays) calls.

It lists and shows approvals and decides them as a named identity, which must be on the
approver list (`APPROVERS`, token names with the approver role); the store refuses the
requester itself, an expired, decided or used approval, and a racing second decision. Every
decision is audited as `governance.approval` before it is returned.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence

from openclaw_secure_stack.audit.sink import AuditEvent, AuditSink
from openclaw_secure_stack.governance.store import Approval, ApprovalError, ApprovalStore


def approval_record(approval: Approval) -> dict[str, object]:
    """An approval as JSON for APIs and `--format json`: exactly what will run, and its state."""
    return {
        "id": approval.id,
        "state": approval.state.value,
        "tool": approval.tool,
        "params": json.loads(approval.params_json),
        "session": approval.session,
        "requester": approval.requester,
        "reason": approval.reason,
        "policies": list(approval.policy_ids),
        "call_hash": approval.call_hash,
        "created": approval.created,
        "expires": approval.expires,
        "decided_by": approval.decided_by,
        "decided_at": approval.decided_at,
        "run_id": approval.run_id,
        "tool_call_id": approval.tool_call_id,
    }


class ApprovalDesk:
    def __init__(
        self,
        store: ApprovalStore,
        audit: AuditSink,
        approvers: frozenset[str],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store, self.audit, self.approvers, self.clock = store, audit, approvers, clock

    def may_approve(self, identity: str | None) -> bool:
        return identity is not None and identity in self.approvers

    async def pending(self) -> Sequence[Approval]:
        return await self.store.pending(self.clock())

    async def show(self, approval_id: str) -> Approval:
        approval = await self.store.get(approval_id, self.clock())
        if approval is None:
            raise ApprovalError("unknown_approval", f"no approval {approval_id!r}")
        return approval

    async def decide(self, approval_id: str, approver: str, approve: bool) -> Approval:
        """Approve or deny as `approver`; raises ApprovalError (with a stable code) if not."""
        if not self.may_approve(approver):
            raise ApprovalError("not_an_approver", f"{approver!r} is not on the approver list")
        approval = await self.store.decide(approval_id, approver, approve, self.clock())
        details = {
            "approval": approval.id,
            "tool": approval.tool,
            "call_hash": approval.call_hash,
            "requester": approval.requester,
            "session": approval.session,
        }
        event = AuditEvent(
            "governance.approval", approval.state.value, approver, approval.run_id, details
        )
        await asyncio.to_thread(self.audit.write, event)
        return approval
