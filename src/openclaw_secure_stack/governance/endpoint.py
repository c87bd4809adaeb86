"""The two requests the prompt-guard plugin makes, answered for whichever server hosts them.

`decide(body)` reads a `before_tool_call` event (see `api`), adds what the model gateway's
provenance says the model had read before proposing the call, and returns the service's
decision; `approval(id)` returns an approval's state so the plugin can wait for a person. Each
returns an `Answer` (status, JSON payload, audit-safe details); a malformed request is a 400.
Anything else that goes wrong raises, and the host answers 5xx: the plugin then blocks.
"""

from __future__ import annotations

from dataclasses import dataclass

from openclaw_secure_stack.governance.api import BadRequest, decide_response, parse_decide
from openclaw_secure_stack.governance.gateway import flow_from
from openclaw_secure_stack.governance.model import Flow
from openclaw_secure_stack.governance.service import Governance
from openclaw_secure_stack.model_gateway.provenance import ProvenanceStore


@dataclass(frozen=True)
class Answer:
    status: int
    payload: dict[str, object]
    details: dict[str, object]


def _error(status: int, code: str, message: str) -> Answer:
    return Answer(status, {"error": {"code": code, "message": message}}, {"error": code})


class GovernanceEndpoint:
    def __init__(self, governance: Governance, provenance: ProvenanceStore | None) -> None:
        self._governance, self._provenance = governance, provenance

    def _flow(self, tool_call_id: str | None) -> Flow:
        if tool_call_id is None or self._provenance is None:
            return Flow()
        return flow_from(self._provenance.lookup(tool_call_id))

    async def decide(self, body: bytes) -> Answer:
        try:
            request = parse_decide(body, self._flow)
        except BadRequest as exc:
            return _error(400, "bad_request", str(exc))
        outcome = await self._governance.decide(request)
        payload = decide_response(outcome)
        details = {
            "tool": request.call.tool,
            "verdict": payload["verdict"],
            "tool_call_id": request.tool_call_id,
        }
        return Answer(200, payload, details)

    async def approval(self, approval_id: str) -> Answer:
        found = await self._governance.store.get(approval_id, self._governance.clock())
        if found is None:
            return _error(404, "unknown_approval", f"no approval {approval_id!r}")
        payload: dict[str, object] = {"id": found.id, "state": found.state.value}
        return Answer(200, payload, {"approval": found.id, "state": found.state.value})
