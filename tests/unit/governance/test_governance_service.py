"""The governance service: approvals bound to the exact call, used once, audited."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from openclaw_secure_stack import resources
from openclaw_secure_stack.audit.sink import CapturingSink
from openclaw_secure_stack.governance import (
    Caller,
    Context,
    Engine,
    ToolCall,
    ToolTable,
    Verdict,
    load_policies,
)
from openclaw_secure_stack.governance.desk import ApprovalDesk, approval_record
from openclaw_secure_stack.governance.service import CallRequest, Governance
from openclaw_secure_stack.governance.store import ApprovalError, SqliteStore, State

MAKE = ToolCall("exec", {"command": "make test"})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Service:
    governance: Governance
    desk: ApprovalDesk
    sink: CapturingSink
    clock: Clock


@pytest.fixture
async def service(tmp_path: Path, table: ToolTable, context: Context) -> AsyncIterator[Service]:
    store = SqliteStore(tmp_path / "gov.sqlite")
    sink, clock = CapturingSink(), Clock()
    engine = Engine(load_policies(resources.DEFAULT_POLICY), table)
    governance = Governance(engine, store, context.places, sink, clock=clock)
    desk = ApprovalDesk(store, sink, frozenset({"bob", "alice"}), clock=clock)
    yield Service(governance, desk, sink, clock)
    await store.close()


def ask(call: ToolCall = MAKE, session: str = "agent:main:s1") -> CallRequest:
    return CallRequest(call, session, Caller(token="alice"), run_id="run-9", tool_call_id="call7")


async def test_approved_once_then_a_new_approval(
    service: Service,
) -> None:
    """A call needing approval waits; once approved it runs once; the same call again waits."""
    governance, desk = service.governance, service.desk
    first = await governance.decide(ask())
    assert first.decision.verdict is Verdict.REQUIRE_APPROVAL and first.approval is not None
    assert first.approval.id in first.decision.reason
    await desk.decide(first.approval.id, "bob", approve=True)
    allowed = await governance.decide(ask())
    assert allowed.decision.verdict is Verdict.ALLOW
    assert "approved by bob" in allowed.decision.reason
    again = await governance.decide(ask())
    assert again.decision.verdict is Verdict.REQUIRE_APPROVAL
    assert again.approval is not None and again.approval.id != first.approval.id


async def test_a_changed_parameter_or_session_is_not_covered(
    service: Service,
) -> None:
    """The approval is for the exact tool, parameters and session."""
    governance, desk = service.governance, service.desk
    first = await governance.decide(ask())
    assert first.approval is not None
    await desk.decide(first.approval.id, "bob", approve=True)
    changed = await governance.decide(ask(ToolCall("exec", {"command": "make test; id"})))
    assert changed.decision.verdict is Verdict.REQUIRE_APPROVAL
    other_session = await governance.decide(ask(session="agent:main:s2"))
    assert other_session.decision.verdict is Verdict.REQUIRE_APPROVAL
    assert (await governance.decide(ask())).decision.verdict is Verdict.ALLOW


async def test_only_named_approvers_other_than_the_requester(
    service: Service,
) -> None:
    """A name off the approver list and the requester are both refused."""
    governance, desk = service.governance, service.desk
    pending = (await governance.decide(ask())).approval
    assert pending is not None
    with pytest.raises(ApprovalError) as error:
        await desk.decide(pending.id, "mallory", approve=True)
    assert error.value.code == "not_an_approver"
    with pytest.raises(ApprovalError) as error:
        await desk.decide(pending.id, "alice", approve=True)
    assert error.value.code == "self_approval"
    assert (await governance.decide(ask())).decision.verdict is Verdict.REQUIRE_APPROVAL


async def test_a_denied_call_never_runs(service: Service) -> None:
    """After a deny, the call asks again (a new approval), it is never allowed by the old one."""
    governance, desk = service.governance, service.desk
    pending = (await governance.decide(ask())).approval
    assert pending is not None
    denied = await desk.decide(pending.id, "bob", approve=False)
    assert denied.state is State.DENIED
    after = await governance.decide(ask())
    assert after.decision.verdict is Verdict.REQUIRE_APPROVAL
    assert after.approval is not None and after.approval.id != pending.id


async def test_an_approval_expires(service: Service) -> None:
    """Approved but not used within ten minutes: the call needs a new approval."""
    governance, desk, clock = service.governance, service.desk, service.clock
    pending = (await governance.decide(ask())).approval
    assert pending is not None
    await desk.decide(pending.id, "bob", approve=True)
    clock.now += 601
    assert (await governance.decide(ask())).decision.verdict is Verdict.REQUIRE_APPROVAL


async def test_decisions_and_approvals_are_audited(
    service: Service,
) -> None:
    """Each decision is recorded with runId, session and toolCallId; each approval with who."""
    governance, desk, sink = service.governance, service.desk, service.sink
    blocked = await governance.decide(ask(ToolCall("exec", {"command": "rm -rf /"})))
    assert blocked.decision.verdict is Verdict.BLOCK
    (record,) = sink.named("governance.decision")
    assert record.outcome == "block" and record.actor == "alice" and record.request_id == "run-9"
    assert record.details["tool_call_id"] == "call7"
    assert record.details["session"] == "agent:main:s1"
    assert record.details["policies"] == ["OSS-GOV-002"]
    pending = (await governance.decide(ask())).approval
    assert pending is not None
    await desk.decide(pending.id, "bob", approve=True)
    (approval,) = sink.named("governance.approval")
    assert approval.actor == "bob" and approval.outcome == "approved"


async def test_rate_policies_see_the_history(
    service: Service,
) -> None:
    """The 121st call in a minute in one session is blocked by the rate policy."""
    governance, clock = service.governance, service.clock
    read = ToolCall("read", {"path": "a.txt"})
    for _ in range(120):
        assert (await governance.decide(ask(read))).decision.verdict is Verdict.ALLOW
    over = await governance.decide(ask(read))
    assert over.decision.verdict is Verdict.BLOCK and over.decision.policy_ids == ("OSS-GOV-020",)
    clock.now += 61
    assert (await governance.decide(ask(read))).decision.verdict is Verdict.ALLOW


async def test_the_desk_lists_and_shows_what_will_run(service: Service) -> None:
    """Pending approvals show the tool, the exact parameters, requester and reason."""
    governance, desk = service.governance, service.desk
    pending = (await governance.decide(ask())).approval
    assert pending is not None
    (listed,) = await desk.pending()
    record = approval_record(listed)
    assert record["params"] == {"command": "make test"} and record["requester"] == "alice"
    assert record["state"] == "pending" and record["policies"] == ["OSS-GOV-012"]
    assert (await desk.show(pending.id)).id == pending.id
    with pytest.raises(ApprovalError) as error:
        await desk.show("nope")
    assert error.value.code == "unknown_approval"
