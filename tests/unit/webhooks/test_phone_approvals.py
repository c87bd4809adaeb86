"""Approvals from the phone: buttons to the approvers, single-use nonces bound to one approval,
presses from anyone else refused, every press audited."""

from __future__ import annotations

from typing import Any

import pytest
from tests.fakes.clock import Clock

from openclaw_secure_stack.audit.sink import CapturingSink
from openclaw_secure_stack.webhooks.approvals import ApprovalRequest, PhoneApprovals
from openclaw_secure_stack.webhooks.messages import Inbound

APPROVER, OTHER_APPROVER, USER = "1001", "1003", "1002"


class Phone:
    """A platform that records the questions it was asked to send."""

    name = "telegram"

    def __init__(self) -> None:
        self.questions: list[tuple[str, str, list[tuple[str, str]]]] = []

    async def send_buttons(self, chat: str, text: str, buttons: list[tuple[str, str]]) -> None:
        self.questions.append((chat, text, buttons))


class Resolver:
    def __init__(self, fail: bool = False) -> None:
        self.decisions: list[tuple[str, bool, str]] = []
        self.fail = fail

    async def resolve(self, approval_id: str, approved: bool, approver: str) -> None:
        if self.fail:
            raise ConnectionError("governance is down")
        self.decisions.append((approval_id, approved, approver))


@pytest.fixture
def setup() -> tuple[PhoneApprovals, Phone, Resolver, CapturingSink, Clock]:
    phone, resolver, sink, clock = Phone(), Resolver(), CapturingSink(), Clock()
    approvers = {"telegram": frozenset({APPROVER, OTHER_APPROVER})}
    approvals = PhoneApprovals({"telegram": phone}, approvers, sink, clock)  # type: ignore[dict-item]
    approvals.connect(resolver)
    return approvals, phone, resolver, sink, clock


def request(**changes: Any) -> ApprovalRequest:
    values: dict[str, Any] = {
        "approval_id": "appr-1",
        "title": "exec: rm -rf build",
        "description": "asked by webhook:telegram",
        "expires_in": 300.0,
        "requester": f"telegram:{USER}",
    } | changes
    return ApprovalRequest(**values)


def press(sender: str, data: str) -> Inbound:
    return Inbound("telegram", "u1", "button", sender, sender, data, detail="cb1")


async def test_every_approver_gets_the_question_with_two_buttons(setup: Any) -> None:
    approvals, phone, _, sink, _ = setup
    assert await approvals.ask(request()) == 2
    assert [chat for chat, _, _ in phone.questions] == [APPROVER, OTHER_APPROVER]
    _, text, buttons = phone.questions[0]
    assert "exec: rm -rf build" in text
    (approve_label, approve), (deny_label, deny) = buttons
    assert (approve_label, deny_label) == ("Approve", "Deny")
    assert approve.split(":")[1] == deny.split(":")[1], "one nonce per question"
    assert len(approve.encode()) <= 64, "Telegram's callback_data limit"
    assert [e.outcome for e in sink.named("webhook.approval")] == ["asked"]


async def test_an_approver_decides_once(setup: Any) -> None:
    approvals, phone, resolver, sink, _ = setup
    await approvals.ask(request())
    approve = phone.questions[0][2][0][1]
    assert await approvals.press(press(APPROVER, approve)) == "Approved."
    assert await approvals.press(press(OTHER_APPROVER, approve)) == "No approval is waiting."
    assert resolver.decisions == [("appr-1", True, f"telegram:{APPROVER}")]
    outcomes = [(e.outcome, e.details.get("reason")) for e in sink.named("webhook.approval")]
    assert outcomes == [("asked", None), ("approved", None), ("refused", "unknown_or_expired")]


async def test_deny(setup: Any) -> None:
    approvals, phone, resolver, _, _ = setup
    await approvals.ask(request())
    deny = phone.questions[0][2][1][1]
    assert await approvals.press(press(APPROVER, deny)) == "Denied."
    assert resolver.decisions == [("appr-1", False, f"telegram:{APPROVER}")]


async def test_a_press_from_a_non_approver_is_refused_and_audited(setup: Any) -> None:
    approvals, phone, resolver, sink, _ = setup
    await approvals.ask(request())
    approve = phone.questions[0][2][0][1]
    assert await approvals.press(press(USER, approve)) == "You cannot approve."
    assert resolver.decisions == []
    [refusal] = [e for e in sink.named("webhook.approval") if e.outcome == "refused"]
    assert refusal.details["reason"] == "not_an_approver"
    assert refusal.details["presser"] == f"telegram:{USER}"
    # The question is still open for a real approver.
    assert await approvals.press(press(APPROVER, approve)) == "Approved."


async def test_the_requester_cannot_approve_their_own_call(setup: Any) -> None:
    approvals, phone, resolver, _, _ = setup
    await approvals.ask(request(requester=f"telegram:{APPROVER}"))
    approve = phone.questions[0][2][0][1]
    assert await approvals.press(press(APPROVER, approve)) == "You cannot approve your own request."
    assert await approvals.press(press(OTHER_APPROVER, approve)) == "Approved."
    assert [d[2] for d in resolver.decisions] == [f"telegram:{OTHER_APPROVER}"]


@pytest.mark.parametrize("data", ["approve:guessed-nonce", "approve:", "maybe:x", "", "deny"])
async def test_unknown_or_forged_button_data_decides_nothing(setup: Any, data: str) -> None:
    approvals, _, resolver, _, _ = setup
    await approvals.ask(request())
    assert await approvals.press(press(APPROVER, data)) == "No approval is waiting."
    assert resolver.decisions == []


async def test_an_expired_question_decides_nothing(setup: Any) -> None:
    approvals, phone, resolver, _, clock = setup
    await approvals.ask(request(expires_in=60.0))
    clock.now += 60.0
    approve = phone.questions[0][2][0][1]
    assert await approvals.press(press(APPROVER, approve)) == "No approval is waiting."
    assert resolver.decisions == []


async def test_a_resolver_failure_is_told_and_audited(setup: Any) -> None:
    approvals, phone, resolver, sink, _ = setup
    resolver.fail = True
    await approvals.ask(request())
    approve = phone.questions[0][2][0][1]
    assert await approvals.press(press(APPROVER, approve)) == "The decision was lost."
    refusal = sink.named("webhook.approval")[-1]
    assert (refusal.details["reason"], refusal.details["error"]) == (
        "resolver_failed",
        "ConnectionError",
    )


async def test_without_a_resolver_nothing_can_be_asked() -> None:
    approvals = PhoneApprovals({}, {}, CapturingSink(), Clock())
    with pytest.raises(RuntimeError, match="no approval resolver"):
        await approvals.ask(request())
