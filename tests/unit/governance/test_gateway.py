"""The model gateway's decider: the engine's BLOCK strips a proposed call; approval passes."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from openclaw_secure_stack import resources
from openclaw_secure_stack.governance import Context
from openclaw_secure_stack.governance.gateway import EngineDecider, flow_from
from openclaw_secure_stack.model_gateway.decisions import ProposedCall
from openclaw_secure_stack.model_gateway.provenance import Provenance, ReadResult
from openclaw_secure_stack.settings import GovernanceConfig


def provenance(*read: ReadResult) -> Provenance:
    return Provenance("call1", "exec", "sha", "req-1", "m", read)


CONFIG = GovernanceConfig(
    resources.DEFAULT_POLICY, resources.GOVERNANCE_TOOLS, Path("unused.sqlite"), frozenset(), 600
)


@pytest.fixture
def decider(context: Context) -> EngineDecider:
    return EngineDecider(CONFIG, context.places)


async def test_the_decider_pickles_into_a_worker(decider: EngineDecider) -> None:
    """granian hands the decider to its worker process: it pickles, engine loaded there."""
    await decider.decide(ProposedCall("c", "read", '{"path": "a"}'), provenance())
    copy = pickle.loads(pickle.dumps(decider))
    decision = await copy.decide(ProposedCall("c", "exec", '{"command": "rm -rf /"}'), provenance())
    assert not decision.allow


@pytest.mark.parametrize(
    ("name", "arguments", "allowed", "reason"),
    [
        ("exec", '{"command": "rm -rf /"}', False, "OSS-GOV-002"),
        ("exec", '{"command": "python3 x.py"}', True, ""),
        ("read", '{"path": "notes.md"}', True, ""),
        ("exec", '{"command": ', False, "not valid JSON"),
        ("exec", '["ls"]', False, "not a JSON object"),
        ("mystery_tool", "{}", False, "unknown tool"),
    ],
)
async def test_only_blocks_are_stripped(
    decider: EngineDecider, name: str, arguments: str, allowed: bool, reason: str
) -> None:
    """BLOCK strips (with the reason); ALLOW and REQUIRE_APPROVAL pass to OpenClaw."""
    decision = await decider.decide(ProposedCall("call1", name, arguments), provenance())
    assert decision.allow is allowed and reason in decision.reason


def test_flagged_tool_results_make_the_flow_untrusted() -> None:
    """A tool result with a finding (or withheld) in the model's context: untrusted content."""
    assert not flow_from(None).untrusted_content
    assert not flow_from(provenance(ReadResult("read", "c0", "pass"))).untrusted_content
    flagged = provenance(ReadResult("web_fetch", "c0", "flag", ("OSS-IND-001",)))
    assert flow_from(flagged).untrusted_content
