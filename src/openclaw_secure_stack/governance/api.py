"""The wire format of the governance endpoint the prompt-guard plugin calls.

`POST /internal/governance/decide` takes what OpenClaw's `before_tool_call` hook sees:

    {"toolName": "exec", "params": {...}, "sessionKey": "agent:main:oss:alice:openai-user:u",
     "runId": "...", "toolCallId": "...", "agentId": "main",
     "requester": {"channel": "telegram", "senderId": "42", "senderIsOwner": false}}

and answers `{"verdict": "allow"|"block"|"require_approval", "reason", "policies",
"approval": {"id", "expires"} | null}`. `GET /internal/governance/approvals/{id}` answers
`{"id", "state"}` so the plugin can wait for a person without deciding the call again.

The caller's identity is never taken from the body: the session key the proxy set
(`oss:<client token name>:...`, see `proxy.session`) names the client token, and a channel
requester names its channel and sender. Anything malformed raises `BadRequest` (a 400).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote

from openclaw_secure_stack.governance.model import Caller, Flow, ToolCall
from openclaw_secure_stack.governance.service import CallRequest, Outcome

MAX_REQUEST_BYTES = 1024 * 1024
MAX_ID_CHARS = 512
SESSION_NAMESPACE = "oss"


class BadRequest(ValueError):
    """A decide request the endpoint cannot read; the message says what is wrong."""


def _required(document: Mapping[str, Any], key: str) -> str:
    value = document.get(key)
    if not isinstance(value, str) or not value or len(value) > MAX_ID_CHARS:
        raise BadRequest(f"{key!r} must be a non-empty string of at most {MAX_ID_CHARS} chars")
    return value


def _optional(document: Mapping[str, Any], key: str) -> str | None:
    return None if document.get(key) is None else _required(document, key)


def client_of(session_key: str) -> str | None:
    """The client token name the proxy put in a session key (`...oss:<label>:...`), or None."""
    parts = session_key.split(":")
    for index, part in enumerate(parts[:-1]):
        if part == SESSION_NAMESPACE and parts[index + 1]:
            return unquote(parts[index + 1])
    return None


def parse_decide(body: bytes, flow_of: Callable[[str | None], Flow]) -> CallRequest:
    """Read a decide request; `flow_of(toolCallId)` says what the model had read before it
    proposed the call (the model gateway's provenance)."""
    if len(body) > MAX_REQUEST_BYTES:
        raise BadRequest(f"the request is larger than {MAX_REQUEST_BYTES} bytes")
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise BadRequest(f"the body is not JSON ({exc})") from None
    if not isinstance(document, dict):
        raise BadRequest("the body must be a JSON object")
    tool = _required(document, "toolName")
    params = document.get("params", {})
    if not isinstance(params, dict):
        raise BadRequest("'params' must be an object")
    session = _required(document, "sessionKey")
    requester = document.get("requester") or {}
    if not isinstance(requester, dict):
        raise BadRequest("'requester' must be an object")
    owner = requester.get("senderIsOwner")
    if owner is not None and not isinstance(owner, bool):
        raise BadRequest("'requester.senderIsOwner' must be a boolean")
    caller = Caller(
        token=client_of(session),
        channel=_optional(requester, "channel"),
        sender=_optional(requester, "senderId"),
        owner=owner,
    )
    tool_call_id = _optional(document, "toolCallId")
    return CallRequest(
        call=ToolCall(tool, params),
        session=session,
        caller=caller,
        flow=flow_of(tool_call_id),
        run_id=_optional(document, "runId"),
        tool_call_id=tool_call_id,
    )


def decide_response(outcome: Outcome) -> dict[str, object]:
    decision, approval = outcome.decision, outcome.approval
    return {
        "verdict": decision.verdict.value,
        "reason": decision.reason,
        "policies": list(decision.policy_ids),
        "approval": (
            None
            if approval is None or decision.allowed
            else {"id": approval.id, "expires": approval.expires}
        ),
    }
