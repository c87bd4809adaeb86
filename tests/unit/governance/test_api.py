"""The decide endpoint's wire format: what the plugin sends, what it gets back."""

from __future__ import annotations

import json

import pytest

from openclaw_secure_stack.governance import Caller, Decision, Flow, ToolCall, Verdict
from openclaw_secure_stack.governance.api import (
    MAX_REQUEST_BYTES,
    BadRequest,
    client_of,
    decide_response,
    parse_decide,
)
from openclaw_secure_stack.governance.service import Outcome
from openclaw_secure_stack.governance.store import Approval, State

EVENT = {
    "toolName": "exec",
    "params": {"command": "ls"},
    "sessionKey": "agent:main:oss:alice:openai-user:u1",
    "runId": "chatcmpl-1",
    "toolCallId": "call_1",
    "agentId": "main",
    "requester": {"channel": "telegram", "senderId": "42", "senderIsOwner": False},
}


def no_flow(call_id: str | None) -> Flow:
    return Flow()


def test_a_hook_event_becomes_a_call_request() -> None:
    """Tool, parameters, session, OpenClaw's ids and the channel requester are read."""
    seen: list[str | None] = []

    def flow_of(call_id: str | None) -> Flow:
        seen.append(call_id)
        return Flow(untrusted_content=True)

    request = parse_decide(json.dumps(EVENT).encode(), flow_of)
    assert request.call == ToolCall("exec", {"command": "ls"})
    assert request.session == EVENT["sessionKey"]
    assert request.caller == Caller(token="alice", channel="telegram", sender="42", owner=False)
    assert (request.run_id, request.tool_call_id) == ("chatcmpl-1", "call_1")
    assert request.flow.untrusted_content and seen == ["call_1"]


@pytest.mark.parametrize(
    ("session", "client"),
    [
        ("agent:main:oss:alice:openai-user:u", "alice"),
        ("agent:main:oss:%41lice:openai:r1", "Alice"),
        ("agent:main:main", None),
        ("agent:main:oss:", None),
    ],
)
def test_the_client_comes_from_the_session_key(session: str, client: str | None) -> None:
    """The proxy's `oss:<client>` segment names the token; nothing else does."""
    assert client_of(session) == client


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "not JSON"),
        (b"[]", "JSON object"),
        (json.dumps({**EVENT, "toolName": ""}).encode(), "'toolName'"),
        (json.dumps({**EVENT, "params": []}).encode(), "'params'"),
        (
            json.dumps({k: v for k, v in EVENT.items() if k != "sessionKey"}).encode(),
            "'sessionKey'",
        ),
        (json.dumps({**EVENT, "requester": {"senderIsOwner": "yes"}}).encode(), "senderIsOwner"),
        (json.dumps({**EVENT, "runId": "x" * 513}).encode(), "'runId'"),
        (b" " * (MAX_REQUEST_BYTES + 1), "larger than"),
    ],
)
def test_bad_requests_are_refused(body: bytes, message: str) -> None:
    """Malformed bodies raise BadRequest with what is wrong (the route answers 400)."""
    with pytest.raises(BadRequest, match=message):
        parse_decide(body, no_flow)


def test_the_response_names_the_approval_only_while_it_is_needed() -> None:
    """REQUIRE_APPROVAL carries the approval id; an allowed call does not."""
    approval = Approval(
        "a1", "h", "exec", "{}", "s", "alice", "r", ("P",), 1.0, 601.0, State.PENDING
    )
    waiting = Outcome(Decision(Verdict.REQUIRE_APPROVAL, "wait", ("P",)), approval)
    assert decide_response(waiting) == {
        "verdict": "require_approval",
        "reason": "wait",
        "policies": ["P"],
        "approval": {"id": "a1", "expires": 601.0},
    }
    used = Outcome(Decision(Verdict.ALLOW, "approved", ("P",)), approval)
    assert decide_response(used)["approval"] is None
