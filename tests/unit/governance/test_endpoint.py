"""The plugin's two requests: decide a hook event, read an approval's state."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from openclaw_secure_stack import resources
from openclaw_secure_stack.audit.sink import CapturingSink
from openclaw_secure_stack.governance import Context, Engine, ToolTable, load_policies
from openclaw_secure_stack.governance.endpoint import GovernanceEndpoint
from openclaw_secure_stack.governance.service import Governance
from openclaw_secure_stack.governance.store import SqliteStore
from openclaw_secure_stack.model_gateway.provenance import MemoryProvenance, Provenance, ReadResult

SESSION = "agent:main:oss:local:openai-user:u"


@pytest.fixture
async def endpoint(
    tmp_path: Path, table: ToolTable, context: Context
) -> AsyncIterator[tuple[GovernanceEndpoint, MemoryProvenance]]:
    store = SqliteStore(tmp_path / "gov.sqlite")
    engine = Engine(load_policies(resources.DEFAULT_POLICY), table)
    provenance = MemoryProvenance(100)
    governance = Governance(engine, store, context.places, CapturingSink())
    yield GovernanceEndpoint(governance, provenance), provenance
    await store.close()


def event(tool: str, call_id: str = "call_1", **params: object) -> bytes:
    body = {"toolName": tool, "params": params, "sessionKey": SESSION, "toolCallId": call_id}
    return json.dumps(body).encode()


async def test_decide_blocks_with_the_reason(
    endpoint: tuple[GovernanceEndpoint, MemoryProvenance],
) -> None:
    """A blocked call: 200 with verdict block, the reason and the policy."""
    answer = await endpoint[0].decide(event("exec", command="rm -rf /"))
    assert answer.status == 200
    assert answer.payload["verdict"] == "block" and answer.payload["policies"] == ["OSS-GOV-002"]
    assert answer.details == {"tool": "exec", "verdict": "block", "tool_call_id": "call_1"}


async def test_approval_state_while_waiting(
    endpoint: tuple[GovernanceEndpoint, MemoryProvenance],
) -> None:
    """A call needing approval names it; its state can be read; an unknown id is a 404."""
    answer = await endpoint[0].decide(event("exec", command="make"))
    approval = answer.payload["approval"]
    assert answer.payload["verdict"] == "require_approval" and isinstance(approval, dict)
    state = await endpoint[0].approval(approval["id"])
    assert (state.status, state.payload) == (200, {"id": approval["id"], "state": "pending"})
    assert (await endpoint[0].approval("nope")).status == 404


async def test_untrusted_provenance_makes_code_wait_for_a_person(
    endpoint: tuple[GovernanceEndpoint, MemoryProvenance],
) -> None:
    """The flow rule: after a flagged tool result, even an allowlisted exec needs approval."""
    api, provenance = endpoint
    assert (await api.decide(event("exec", "call_2", command="ls"))).payload["verdict"] == "allow"
    flagged = ReadResult("web_fetch", "call_0", "flag", ("OSS-IND-001",))
    provenance.record(Provenance("call_3", "exec", "sha", "req", "m", (flagged,)))
    answer = await api.decide(event("exec", "call_3", command="ls"))
    assert answer.payload["verdict"] == "require_approval"
    assert "OSS-GOV-016" in answer.payload["policies"]  # type: ignore[operator]


async def test_a_bad_request_is_a_400(
    endpoint: tuple[GovernanceEndpoint, MemoryProvenance],
) -> None:
    """A body that is not a hook event is refused, not decided."""
    answer = await endpoint[0].decide(b'{"toolName": "exec"}')
    assert answer.status == 400 and answer.details == {"error": "bad_request"}
