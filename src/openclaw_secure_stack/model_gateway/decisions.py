"""The decision hook every complete tool call passes before OpenClaw sees it.

`AllowAll` is the default until the governance engine (issue 20) replaces it with its own
`ToolCallDecider`. A decider that raises blocks the call (fail closed); so does a blocked one:
the call is removed from the reply and the model's answer ends with text that says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from openclaw_secure_stack.model_gateway.provenance import Provenance


@dataclass(frozen=True)
class ProposedCall:
    """A complete tool call as the model proposed it (`arguments`: the JSON text, unparsed)."""

    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class CallDecision:
    allow: bool
    reason: str = ""


ALLOW = CallDecision(True)


class ToolCallDecider(Protocol):
    async def decide(self, call: ProposedCall, provenance: Provenance) -> CallDecision: ...


class AllowAll:
    """Every call passes: the placeholder until the governance engine lands."""

    async def decide(self, call: ProposedCall, provenance: Provenance) -> CallDecision:
        return ALLOW
