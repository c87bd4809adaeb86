"""Governance in the model gateway: the decider for proposed calls, and provenance as flow.

The model gateway sees every tool call the model proposes, before OpenClaw does. `EngineDecider`
asks the engine about each one and strips those the engine blocks (the model's answer then says
why). A call that needs approval passes here: the person is asked when OpenClaw is about to run
it (the plugin's `before_tool_call`), with the session and requester only OpenClaw knows.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from pathlib import Path

from openclaw_secure_stack.governance.engine import Engine
from openclaw_secure_stack.governance.model import Context, Flow, ToolCall, Verdict
from openclaw_secure_stack.model_gateway.decisions import ALLOW, CallDecision, ProposedCall
from openclaw_secure_stack.model_gateway.provenance import Provenance

MAX_ARGUMENT_BYTES = 1024 * 1024


def flow_from(provenance: Provenance | None) -> Flow:
    """What the model had read when it proposed the call: flagged content is untrusted."""
    return Flow(untrusted_content=provenance is not None and provenance.untrusted)


class EngineDecider:
    """The gateway's `ToolCallDecider`: the engine's BLOCK strips the call."""

    def __init__(self, engine: Engine, places: Mapping[str, Path]) -> None:
        self._engine, self._places = engine, places

    async def decide(self, call: ProposedCall, provenance: Provenance) -> CallDecision:
        if len(call.arguments) > MAX_ARGUMENT_BYTES:
            return CallDecision(False, f"the arguments of {call.name} are too large to inspect")
        try:
            params = json.loads(call.arguments or "{}")
        except (json.JSONDecodeError, RecursionError):
            return CallDecision(False, f"the arguments of {call.name} are not valid JSON")
        if not isinstance(params, dict):
            return CallDecision(False, f"the arguments of {call.name} are not a JSON object")
        context = Context(
            session=f"model-gateway:{provenance.request_id}",
            places=self._places,
            flow=flow_from(provenance),
        )
        decision = await asyncio.to_thread(
            self._engine.decide, ToolCall(call.name, params), context
        )
        if decision.verdict is Verdict.BLOCK:
            return CallDecision(False, decision.reason)
        return ALLOW
