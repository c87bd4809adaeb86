"""Approvals stage: the proxy answers `/governance/approvals...` itself, for approvers only.

    GET  /governance/approvals                 pending approvals, oldest first
    GET  /governance/approvals/{id}            one approval, any state
    POST /governance/approvals/{id}/approve    allow that exact call once
    POST /governance/approvals/{id}/deny       refuse it

Runs after `Auth`, so the caller is a named client token; only tokens on APPROVERS get an
answer (403 otherwise), and the desk refuses the requester itself. Nothing under `/governance/`
is ever forwarded to OpenClaw: an unknown path there is a 404 here.
"""

from __future__ import annotations

from typing import ClassVar

from openclaw_secure_stack.governance.desk import ApprovalDesk, approval_record
from openclaw_secure_stack.governance.store import ApprovalError
from openclaw_secure_stack.proxy.flow import Flow, Response

PREFIX = "/governance/"
COLLECTION = "/governance/approvals"
ACTIONS = {"approve": True, "deny": False}
_STATUS = {"unknown_approval": 404, "not_an_approver": 403, "self_approval": 403}


class Approvals:
    name: ClassVar[str] = "approvals"
    sees_answered: ClassVar[bool] = False

    def __init__(self, desk: ApprovalDesk) -> None:
        self._desk = desk

    async def __call__(self, flow: Flow) -> None:
        request = flow.request
        if not (request.path == PREFIX[:-1] or request.path.startswith(PREFIX)):
            return
        if request.websocket:
            flow.deny(400, "not_websocket", f"{request.path} does not accept WebSockets")
            return
        actor = flow.actor
        if actor is None or not self._desk.may_approve(actor):
            flow.deny(403, "not_an_approver", "this token does not have the approver role")
            return
        route = self._route(request.method, request.path)
        if route is None:
            flow.deny(404, "not_found", f"no route {request.method} {request.path}")
            return
        approval_id, action = route
        try:
            if approval_id is None:
                pending = await self._desk.pending()
                records = [approval_record(approval) for approval in pending]
                flow.response = Response.json(200, {"approvals": records})
                return
            if action is None:
                approval = await self._desk.show(approval_id)
            else:
                approval = await self._desk.decide(approval_id, actor, ACTIONS[action])
        except ApprovalError as exc:
            flow.deny(_STATUS.get(exc.code, 409), exc.code, str(exc))
            return
        flow.notes["approval"] = approval.id
        flow.response = Response.json(200, {"approval": approval_record(approval)})

    @staticmethod
    def _route(method: str, path: str) -> tuple[str | None, str | None] | None:
        """(approval id or None, action or None) for a known route, else None."""
        if path == COLLECTION:
            return (None, None) if method == "GET" else None
        parts = path[len(COLLECTION) + 1 :].split("/") if path.startswith(COLLECTION + "/") else []
        if len(parts) == 1 and parts[0] and method == "GET":
            return parts[0], None
        if len(parts) == 2 and parts[0] and parts[1] in ACTIONS and method == "POST":
            return parts[0], parts[1]
        return None
