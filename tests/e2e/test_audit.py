"""The audit trail of a real chat turn through `up` and OpenClaw: intent first, outcome after,
and the anchor sealing the log's head."""

from __future__ import annotations

import hashlib
import json
import uuid

from harness import StackHandle

from openclaw_secure_stack.audit.anchor import SLOT_BYTES, default_anchor_path


def test_chat_turn_is_audited_before_and_after_openclaw_acts(stack: StackHandle) -> None:
    """The turn's proxy.intent (digest of the exact body sent, never its text) precedes its
    proxy.request outcome in the chain, and the anchor seals the last record."""
    marker = "audited-" + uuid.uuid4().hex
    stack.llm.reply("ok")
    body = {"model": "openclaw", "messages": [{"role": "user", "content": f"hi {marker}"}]}
    body["user"] = stack.new_session()
    result = stack.post("/v1/chat/completions", json.dumps(body).encode())
    assert result.status == 200, result.body
    request_id = result.headers["x-request-id"]

    mine = [r for r in stack.audit_records() if r["request_id"] == request_id]
    assert [(r["event"], r["outcome"]) for r in mine] == [
        ("proxy.intent", "pending"),
        ("proxy.request", "allow"),
    ]
    assert (
        mine[0]["details"]["body_sha256"] == hashlib.sha256(json.dumps(body).encode()).hexdigest()
    )
    assert mine[0]["seq"] < mine[1]["seq"]
    assert marker not in stack.audit_log_path.read_text()
    anchor = default_anchor_path(stack.audit_log_path).read_bytes()
    assert len(anchor) == SLOT_BYTES
    assert json.loads(anchor)["seq"] >= mine[1]["seq"]
