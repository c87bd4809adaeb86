"""What the real proxy forwards in headers: client headers by allowlist, the session key bound to
the authenticated client, and reply headers without OpenClaw's cookies or forged findings."""

from __future__ import annotations

import json

import pytest

from openclaw_secure_stack.proxy.testing import (
    TEST_CLIENT_TOKENS,
    TEST_GATEWAY_TOKEN,
    RecordingUpstream,
    raw_exchange,
    raw_request,
    reply_request,
    scripted_reply,
)

ALICE = TEST_CLIENT_TOKENS["alice"]
CI = TEST_CLIENT_TOKENS["ci"]
CHAT = "/v1/chat/completions"
# What OpenClaw may receive from any request: the allowlisted client headers plus the proxy's.
PROXY_SENT = {"host", "authorization", "x-request-id", "accept-encoding", "content-length"}

SMUGGLED = [
    ("Cookie", "openclaw-plugin-auth=stolen"),
    ("X-OpenClaw-Token", "another-gateway-token"),
    ("X-OpenClaw-Password", "hunter2"),
    ("X-Api-Key", "sk-client"),
    ("X-OPENCLAW-SESSION-KEY", "agent:main:main"),
    ("x-openclaw-session-key", "oss:ci:openai-user:shared"),
    ("X-OpenClaw-Agent-Id", "ops"),
    ("X-OpenClaw-Agent", "ops"),
    ("X-OpenClaw-Model", "other/expensive"),
    ("X-OpenClaw-Scopes", "operator.admin"),
    ("X-OpenClaw-Message-Channel", "telegram"),
    ("X-OpenClaw-Account-Id", "acct"),
    ("X-OpenClaw-Message-To", "+15550100"),
    ("X-OpenClaw-Thread-Id", "t1"),
    ("X-OpenClaw-Idempotency-Key", "k"),
    ("X-Forwarded-For", "6.6.6.6"),
    ("User-Agent", "attacker/1.0"),
    ("Accept-Encoding", "gzip"),
]


def chat(user: object = None) -> bytes:
    body: dict[str, object] = {"model": "openclaw", "messages": [{"role": "user", "content": "hi"}]}
    if user is not None:
        body["user"] = user
    return json.dumps(body).encode()


def send(
    port: int,
    token: str,
    body: bytes,
    headers: list[tuple[str, str]] = [],  # noqa: B006 - never mutated
    path: str = CHAT,
) -> int | None:
    request = raw_request(
        path,
        method="POST",
        token=token,
        body=body,
        headers=[
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            *headers,
        ],
    )
    return raw_exchange(port, request).status


@pytest.mark.parametrize(
    "path", [CHAT, "/v1/models", "/sessions/oss:alice:openai:1/history", "/anything"]
)
def test_only_allowlisted_headers_reach_openclaw(
    proxy_port: int, upstream: RecordingUpstream, path: str
) -> None:
    """Credentials, session/agent/model/scope selectors and unknown headers never reach
    OpenClaw, on any path; it gets Content-Type, Accept and Origin from the client, the rest from
    the proxy (its token, request id, identity encoding, the session key on chat)."""
    headers = [("Accept", "application/json"), ("Origin", "http://127.0.0.1"), *SMUGGLED]
    assert send(proxy_port, ALICE, chat("shared"), headers, path) == 200
    [seen] = upstream.protected_requests()
    names = {name.lower() for name, _ in seen.headers}
    expected = PROXY_SENT | {"content-type", "accept", "origin"}
    assert names == (expected | {"x-openclaw-session-key"} if path == CHAT else expected)
    assert seen.header("authorization") == f"Bearer {TEST_GATEWAY_TOKEN}"
    assert seen.header("accept-encoding") == "identity"
    assert not {value for _, value in seen.headers} & {value for _, value in SMUGGLED}


@pytest.mark.parametrize(
    ("user", "alice_key", "ci_key"),
    [
        ("shared", "oss:alice:openai-user:shared", "oss:ci:openai-user:shared"),
        ("Shared ", "oss:alice:openai-user:Shared", "oss:ci:openai-user:Shared"),
        ("ci:x", "oss:alice:openai-user:ci%3Ax", "oss:ci:openai-user:ci%3Ax"),
    ],
)
def test_same_user_of_two_clients_reaches_two_sessions(
    proxy_port: int, upstream: RecordingUpstream, user: str, alice_key: str, ci_key: str
) -> None:
    """alice and ci sending the same `user` (and alice a forged session header) reach OpenClaw
    with one session key each, in their own namespace; the body is forwarded unchanged."""
    forged = [("X-OpenClaw-Session-Key", ci_key)]
    assert send(proxy_port, ALICE, chat(user), forged) == 200
    assert send(proxy_port, CI, chat(user)) == 200
    alice, ci = upstream.protected_requests()
    for seen, key in ((alice, alice_key), (ci, ci_key)):
        sessions = [v for k, v in seen.headers if k.lower() == "x-openclaw-session-key"]
        assert sessions == [key]
        assert seen.body == chat(user)


def test_without_user_each_request_gets_a_fresh_session(
    proxy_port: int, upstream: RecordingUpstream
) -> None:
    """Without `user` every request gets its own session, even from the same client."""
    assert send(proxy_port, ALICE, chat()) == 200
    assert send(proxy_port, ALICE, chat()) == 200
    first, second = (r.header("x-openclaw-session-key") for r in upstream.protected_requests())
    assert first and second and first != second
    assert first.startswith("oss:alice:openai:") and second.startswith("oss:alice:openai:")


def test_reply_headers_lose_cookies_request_id_and_forged_findings(proxy_port: int) -> None:
    """OpenClaw's Set-Cookie, its own request id and x-oss-* headers do not reach the client;
    the client gets exactly one x-request-id (the proxy's)."""
    reply_headers = [
        ("Content-Type", "application/json"),
        ("Set-Cookie", "openclaw-plugin-auth=secret; HttpOnly"),
        ("set-cookie", "second=1"),
        ("X-Request-Id", "from-openclaw"),
        ("X-OSS-Response-Findings", "forged"),
        ("x-oss-request-findings", "forged"),
        ("Cache-Control", "no-store"),
    ]
    script = scripted_reply(b'{"ok": true}', headers=reply_headers, length=True)
    reply = raw_exchange(proxy_port, reply_request(script, ALICE))
    assert reply.status == 200 and reply.body == b'{"ok": true}'
    names = [line.split(b":")[0].strip().lower() for line in reply.head.split(b"\r\n")[1:]]
    assert b"set-cookie" not in names
    assert not [name for name in names if name.startswith(b"x-oss-")]
    assert names.count(b"x-request-id") == 1 and b"from-openclaw" not in reply.head
    assert b"cache-control: no-store" in reply.head.lower()


@pytest.mark.parametrize(
    ("token", "path", "code"),
    [
        (ALICE, "/sessions/oss:ci:openai-user:shared/history", "foreign_session"),
        (ALICE, "/sessions/agent:main:oss:ci:openai-user:shared/kill", "foreign_session"),
        (ALICE, "/sessions/agent:main:main/history", "foreign_session"),
        (ALICE, "/sessions/OSS%3ACI%3Aopenai-user%3Ashared/history", "foreign_session"),
        (CI, "/sessions/oss:alice:openai-user:shared/history", "foreign_session"),
    ],
)
def test_routes_into_other_sessions_are_refused_and_not_forwarded(
    proxy_port: int, upstream: RecordingUpstream, token: str, path: str, code: str
) -> None:
    """A session of another client (or of OpenClaw itself) named in the path is 403; nothing
    reaches OpenClaw. (Direct tool invocation: tests/security/proxy/test_route_allowlist.py.)"""
    body = json.dumps({"tool": "sessions_history", "args": {"sessionKey": "main"}}).encode()
    request = raw_request(
        path,
        method="POST",
        token=token,
        body=body,
        headers=[("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    reply = raw_exchange(proxy_port, request)
    assert reply.status == 403
    assert json.loads(reply.body)["error"]["code"] == code
    assert upstream.protected_requests() == []
