"""Governance: a decision on every real tool call (issue 20).

`classify` maps OpenClaw's tools and parameters to intents and resources, `policy` loads
policies as data, `engine.decide` turns a call and its context into ALLOW / BLOCK /
REQUIRE_APPROVAL naming the policies that made it, and `model.call_hash` is the canonical hash
an approval is bound to.
"""

from openclaw_secure_stack.governance.classify import (
    Classification,
    ToolTable,
    ToolTableError,
    classify,
    load_tool_table,
)
from openclaw_secure_stack.governance.engine import Engine, decide
from openclaw_secure_stack.governance.model import (
    Caller,
    Context,
    Decision,
    Flow,
    NotCanonical,
    ToolCall,
    Verdict,
    call_hash,
)
from openclaw_secure_stack.governance.policy import PolicyError, PolicySet, load_policies

__all__ = [
    "Caller",
    "Classification",
    "Context",
    "Decision",
    "Engine",
    "Flow",
    "NotCanonical",
    "PolicyError",
    "PolicySet",
    "ToolCall",
    "ToolTable",
    "ToolTableError",
    "Verdict",
    "call_hash",
    "classify",
    "decide",
    "load_policies",
    "load_tool_table",
]
