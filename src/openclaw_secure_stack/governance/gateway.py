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
from openclaw_secure_stack.governance.setup import load_engine
from openclaw_secure_stack.model_gateway.decisions import ALLOW, CallDecision, ProposedCall
from openclaw_secure_stack.model_gateway.provenance import Provenance
from openclaw_secure_stack.settings import GovernanceConfig

MAX_ARGUMENT_BYTES = 1024 * 1024


def flow_from(provenance: Provenance | None) -> Flow:
    """What the model had read when it proposed the call: flagged content is untrusted."""
    return Flow(untrusted_content=provenance is not None and provenance.untrusted)


class EngineDecider:
    """The gateway's `ToolCallDecider`: the engine's BLOCK strips the call.

    Built from configuration, not from a loaded engine, so it pickles into the server's worker
    process (compiled RE2 patterns do not); the worker loads the engine on first use. Call
    `load_engine(config)` once before serving, so a bad policy file stops start-up.
    """

    def __init__(self, config: GovernanceConfig, places: Mapping[str, Path]) -> None:
        self._config, self._places = config, dict(places)
        self._engine: Engine | None = None

    def __getstate__(self) -> dict[str, object]:
        return {"_config": self._config, "_places": self._places, "_engine": None}

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
        if self._engine is None:
            self._engine = load_engine(self._config)
        proposed = ToolCall(call.name, params)
        decision = await asyncio.to_thread(self._engine.decide, proposed, context)
        if decision.verdict is Verdict.BLOCK:
            return CallDecision(False, decision.reason)
        return ALLOW
