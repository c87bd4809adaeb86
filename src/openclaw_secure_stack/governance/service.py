"""The governance service: the engine plus approvals, rate history and audit, for every caller.

`Governance.decide` is what the plugin's `before_tool_call`, the model gateway and the ingress
proxy ask. In order:

1. the context is built: rate counts for the windows the policies use, from the store;
2. the engine decides (a pure function);
3. a REQUIRE_APPROVAL decision looks for an approved approval of exactly this call (canonical
   hash of tool, parameters and session) and uses it up: the call is allowed, once; otherwise a
   pending approval is opened (or the open one for the same call reused) and named in the
   decision;
4. the decision is audited (with OpenClaw's runId, sessionKey and toolCallId) and counted for
   rate policies *before* it is returned, so an allowed call is always on record.

Approvals are decided at the `desk`; the store enforces single use, expiry and the requester
rule atomically.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from openclaw_secure_stack.audit.sink import AuditEvent, AuditSink
from openclaw_secure_stack.governance.engine import Engine
from openclaw_secure_stack.governance.model import (
    Caller,
    Context,
    Decision,
    Flow,
    NotCanonical,
    RateScope,
    ToolCall,
    Verdict,
    call_hash,
)
from openclaw_secure_stack.governance.store import Approval, ApprovalStore, NewApproval

DEFAULT_APPROVAL_TTL = 600.0


@dataclass(frozen=True)
class CallRequest:
    """One tool call to decide, with what OpenClaw says about where it comes from."""

    call: ToolCall
    session: str
    caller: Caller = field(default_factory=Caller)
    flow: Flow = field(default_factory=Flow)
    run_id: str | None = None
    tool_call_id: str | None = None


@dataclass(frozen=True)
class Outcome:
    decision: Decision
    approval: Approval | None = None


@dataclass(frozen=True)
class _Counts:
    """Rate counts fetched before deciding, so the engine stays synchronous and pure."""

    counts: Mapping[tuple[RateScope, str, float], int]

    def count(self, scope: RateScope, key: str, since: float) -> int:
        return self.counts[(scope, key, since)]


def caller_name(caller: Caller) -> str:
    """The identity an approval names as requester: the token, else channel and sender."""
    if caller.token:
        return caller.token
    if caller.channel and caller.sender:
        return f"{caller.channel}:{caller.sender}"
    return "unknown"


class Governance:
    def __init__(
        self,
        engine: Engine,
        store: ApprovalStore,
        places: Mapping[str, Path],
        audit: AuditSink,
        *,
        approval_ttl: float = DEFAULT_APPROVAL_TTL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine, self.store, self.places, self.audit = engine, store, places, audit
        self.approval_ttl, self.clock = approval_ttl, clock
        self._windows = tuple(
            {(p.rate.scope, p.rate.window_seconds) for p in engine.policies.policies if p.rate}
        )

    async def decide(self, request: CallRequest) -> Outcome:
        now = self.clock()
        context = Context(
            session=request.session,
            places=self.places,
            caller=request.caller,
            flow=request.flow,
            now=now,
        )
        context = replace(context, recent=await self._counts(context))
        decision = await asyncio.to_thread(self.engine.decide, request.call, context)
        approval: Approval | None = None
        if decision.verdict is Verdict.REQUIRE_APPROVAL:
            digest = call_hash(request.call, request.session)
            used = await self.store.consume(digest, now)
            if used is not None:
                approval = used
                decision = Decision(
                    Verdict.ALLOW,
                    f"Allowed once: approved by {used.decided_by} (approval {used.id}).",
                    decision.policy_ids,
                )
            else:
                approval = await self.store.request(
                    self._new_approval(request, decision, digest), now, self.approval_ttl
                )
                decision = replace(
                    decision,
                    reason=f"{decision.reason} Approval {approval.id} is waiting for a person.",
                )
        await self._audit(request, decision, approval)
        await self.store.record_call(
            request.session,
            caller_name(request.caller),
            request.call.tool,
            decision.verdict.value,
            now,
        )
        return Outcome(decision, approval)

    async def _counts(self, context: Context) -> _Counts:
        counts: dict[tuple[RateScope, str, float], int] = {}
        for scope, window in self._windows:
            key = context.session if scope == "session" else caller_name(context.caller)
            since = context.now - window
            counts[(scope, key, since)] = await self.store.count(scope, key, since)
        return _Counts(counts)

    def _new_approval(self, request: CallRequest, decision: Decision, digest: str) -> NewApproval:
        # The engine blocked anything without a canonical JSON form, so this cannot fail.
        shown = json.dumps(request.call.params, sort_keys=True, ensure_ascii=False, indent=1)
        return NewApproval(
            call_hash=digest,
            tool=request.call.tool,
            params_json=shown,
            session=request.session,
            requester=caller_name(request.caller),
            reason=decision.reason,
            policy_ids=decision.policy_ids,
            run_id=request.run_id,
            tool_call_id=request.tool_call_id,
        )

    async def _audit(
        self, request: CallRequest, decision: Decision, approval: Approval | None
    ) -> None:
        try:
            digest = call_hash(request.call, request.session)
        except NotCanonical:
            digest = None
        details: dict[str, object] = {
            "tool": request.call.tool,
            "call_hash": digest,
            "policies": list(decision.policy_ids),
            "reason": decision.reason,
            "session": request.session,
            "tool_call_id": request.tool_call_id,
            "channel": request.caller.channel,
            "sender": request.caller.sender,
        }
        if approval is not None:
            details["approval"] = approval.id
        await asyncio.to_thread(
            self.audit.write,
            AuditEvent(
                "governance.decision",
                decision.verdict.value,
                caller_name(request.caller),
                request.run_id,
                details,
            ),
        )
