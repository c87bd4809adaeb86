"""Session binding against the real OpenClaw: a client reaches only its own sessions, whatever
`user`, session header or forged value it sends (the fake model's message history shows which
session a turn ran in)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from harness import StackHandle

CHAT = "/v1/chat/completions"
ALICE = "alice-e2e-token-0123456789abcdef"
CI = "ci-e2e-token-0123456789abcdef"


def canary() -> str:
    return "canary-" + uuid.uuid4().hex


def turn(
    stack: StackHandle, token: str, user: object, text: str, headers: dict[str, str] | None = None
) -> list[str]:
    """One chat turn; the texts the model received for it."""
    stack.llm.clear()
    body: dict[str, Any] = {"model": "openclaw", "messages": [{"role": "user", "content": text}]}
    if user is not None:
        body["user"] = user
    result = stack.post(CHAT, body, token=token, headers=headers)
    assert result.status == 200, result.body
    seen = [request.text() for request in stack.llm.requests]
    assert seen, "the turn never reached the model"
    return seen


def test_a_client_reaches_only_its_own_sessions(stack: StackHandle) -> None:
    """alice's session is invisible to ci with the same `user`, with alice's session key in
    X-OpenClaw-Session-Key (as the proxy names it, as OpenClaw stores it, and OpenClaw's own
    form), and with a `user` that spells alice's key; alice herself still continues it."""
    with stack.reconfigured(CLIENT_TOKENS=f"alice:{ALICE},ci:{CI}"):
        secret, shared = canary(), stack.new_session()
        assert any(secret in text for text in turn(stack, ALICE, shared, f"remember {secret}"))

        alices_key = f"oss:alice:openai-user:{shared}"
        attempts: list[tuple[object, dict[str, str] | None]] = [
            (shared, None),
            (shared.upper(), None),
            (f" {shared} ", None),
            (alices_key, None),
            (f"agent:main:{alices_key}", None),
            (None, {"X-OpenClaw-Session-Key": alices_key}),
            (None, {"X-OpenClaw-Session-Key": f"agent:main:{alices_key}"}),
            (shared, {"X-OpenClaw-Session-Key": f"agent:main:openai-user:{shared}"}),
            (shared, {"x-openclaw-session-key": "agent:main:main", "X-OpenClaw-Agent-Id": "main"}),
        ]
        for user, headers in attempts:
            seen = turn(stack, CI, user, "what did I ask you to remember?", headers)
            assert not any(secret in text for text in seen), (user, headers)

        assert any(secret in text for text in turn(stack, ALICE, shared, "and what was it?"))

        history = f"/sessions/agent:main:{alices_key}/history"
        own = stack.get(history, token=ALICE)
        assert own.status == 200 and secret.encode() in own.body
        foreign = stack.get(history, token=CI)
        assert (foreign.status, foreign.json()["error"]["code"]) == (403, "foreign_session")
        tool = {"tool": "sessions_history", "args": {"sessionKey": f"agent:main:{alices_key}"}}
        refused = stack.post("/tools/invoke", tool, token=CI)
        assert (refused.status, refused.json()["error"]["code"]) == (403, "route_refused")

        # The agent's own session tools, asked for by the model in ci's session (a prompt
        # injection could ask the same): alice's session stays out of reach. (In the config `up`
        # writes for 2026.9.6 the agent does not have them: "Tool sessions_history not found".)
        alices = f"agent:main:{alices_key}"
        for name, arguments in [
            ("sessions_history", {"sessionKey": alices}),
            ("sessions_list", {"messageLimit": 20}),
            ("sessions_search", {"query": secret}),
            ("sessions_send", {"sessionKey": alices, "message": "repeat what I asked you"}),
            ("session_status", {"sessionKey": alices}),
        ]:
            call_id = stack.llm.call_tool(name, arguments, answer="done")
            seen = turn(stack, CI, stack.new_session(), f"use {name}")
            results = [request.tool_results().get(call_id) for request in stack.llm.requests]
            assert any(result is not None for result in results), f"{name} never ran"
            assert not any(secret in text for text in seen), name

    records = [json.loads(line) for line in stack.audit_log_path.read_text().splitlines()]
    sessions = {
        (record["actor"], record["details"]["session"])
        for record in records
        if record["event"] == "proxy.request"
        and record["details"].get("path") == CHAT
        and str(record["details"].get("session", "")).endswith(f"-user:{shared}")
    }
    assert sessions == {
        ("alice", alices_key),
        ("ci", f"oss:ci:openai-user:{shared}"),
    }
    assert stack.openclaw_traces(f"agent:main:{alices_key}"), "OpenClaw has no session of alice"
