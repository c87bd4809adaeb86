"""BindSession stage: the session key OpenClaw gets is chosen by the proxy, per client."""

from __future__ import annotations

import json

import pytest

from openclaw_secure_stack.proxy.flow import Reject
from openclaw_secure_stack.proxy.session import (
    MAX_USER_CHARS,
    SESSION_HEADER,
    BindSession,
    client_label,
    session_key,
)
from openclaw_secure_stack.proxy.testing import make_flow

CHAT = "/v1/chat/completions"


async def bound(
    actor: str | None,
    body: bytes,
    path: str = CHAT,
    headers: list[tuple[str, str]] | None = None,
) -> str | None:
    flow = make_flow(path, headers=headers or [], body=[body] if body else [])
    flow.actor = actor
    await BindSession()(flow)
    assert flow.response is None
    value = flow.upstream_headers.get(SESSION_HEADER)
    assert flow.notes.get("session") == value
    return value


def chat(**fields: object) -> bytes:
    return json.dumps({"model": "openclaw", "messages": [], **fields}).encode()


async def test_user_selects_a_session_inside_the_callers_namespace() -> None:
    """The body's `user` names a session under the caller's token name."""
    assert await bound("alice", chat(user="team")) == "oss:alice:openai-user:team"


async def test_same_user_of_two_clients_gives_two_sessions() -> None:
    """`alice` and `ci` sending the same `user` get different session keys."""
    assert await bound("alice", chat(user="shared")) != await bound("ci", chat(user="shared"))


async def test_responses_endpoint_keeps_openclaws_own_prefix() -> None:
    """/v1/responses sessions are named as OpenClaw names them (`openresponses-user`)."""
    body = json.dumps({"model": "openclaw", "input": "hi", "user": "u1"}).encode()
    assert await bound("ci", body, "/v1/responses") == "oss:ci:openresponses-user:u1"


@pytest.mark.parametrize(
    "body",
    [
        chat(),
        chat(user=""),
        chat(user="   "),
        chat(user=42),
        chat(user=["ci"]),
        chat(user=None),
        b"not json",
        b"[1, 2]",
        b"",
    ],
    ids=["absent", "empty", "blank", "number", "list", "null", "not json", "array", "no body"],
)
async def test_without_a_usable_user_the_session_is_fresh(body: bytes) -> None:
    """No usable `user` gives a session of this request alone (as OpenClaw would), still
    inside the caller's namespace."""
    assert await bound("alice", body) == "oss:alice:openai:test-request-id"


@pytest.mark.parametrize(
    "client_value",
    [
        "agent:main:openai-user:shared",
        "oss:ci:openai-user:shared",
        "agent:main:main",
        "main",
        "",
    ],
)
async def test_the_clients_session_header_is_replaced(client_value: str) -> None:
    """Whatever X-OpenClaw-Session-Key the client sends, the key is the proxy's."""
    key = await bound("alice", chat(user="shared"), headers=[(SESSION_HEADER, client_value)])
    assert key == "oss:alice:openai-user:shared"


@pytest.mark.parametrize(
    "user",
    [
        "x:oss:ci:openai-user:shared",
        "../ci",
        "a\r\nx-openclaw-session-key: agent:main:main",
        "\u65e5\u672c\u8a9e",
        "with space",
        "%3A",
    ],
)
async def test_no_user_value_leaves_the_namespace_or_breaks_the_header(user: str) -> None:
    """Any `user` is percent-encoded after the caller's prefix: printable ASCII, no ':'."""
    key = await bound("alice", chat(user=user))
    assert key is not None
    prefix = "oss:alice:openai-user:"
    assert key.startswith(prefix)
    rest = key[len(prefix) :]
    assert ":" not in rest and rest.isascii() and rest.isprintable()


async def test_user_is_trimmed_as_openclaw_trims_it() -> None:
    """Surrounding whitespace does not make another session."""
    assert await bound("alice", chat(user="  team ")) == await bound("alice", chat(user="team"))


async def test_overlong_user_is_400() -> None:
    """A `user` over the cap is refused with a clear error rather than an oversized header."""
    flow = make_flow(body=[chat(user="u" * (MAX_USER_CHARS + 1))])
    flow.actor = "alice"
    with pytest.raises(Reject) as caught:
        await BindSession()(flow)
    assert (caught.value.status, caught.value.code) == (400, "invalid_user")


@pytest.mark.parametrize(
    ("first", "second"),
    [("Alice", "alice"), ("a%41", "aA"), ("a.b", "a%2eb"), ("ci", "CI"), ("\u00e9", "%c3%a9")],
)
def test_client_labels_stay_distinct_after_lower_casing(first: str, second: str) -> None:
    """OpenClaw lower-cases session keys; two token names never share a label afterwards."""
    assert client_label(first).lower() != client_label(second).lower()


def test_session_keys_of_distinct_clients_differ_whatever_the_users() -> None:
    """No pair of users gives two clients the same lower-cased key (within one client, `X` and
    `x` stay one session, as in OpenClaw)."""
    users = [None, "x", "X", "ci:x", "alice:x", "%61", ":", "oss:ci:openai-user:x"]
    owners: dict[str, set[str]] = {}
    for actor in ("alice", "Alice", "ci", "ali", "alice:"):
        for user in users:
            owners.setdefault(session_key(actor, "openai", user, "rid").lower(), set()).add(actor)
    assert all(len(actors) == 1 for actors in owners.values())
    assert len(owners) == 5 * (len(users) - 1)


async def test_other_paths_are_left_alone() -> None:
    """Only the two session-selecting endpoints get a key; others forward without one."""
    assert await bound("alice", b"{}", "/v1/models") is None


async def test_no_actor_on_a_session_path_is_refused() -> None:
    """Fail closed: a session path without an authenticated client is refused."""
    flow = make_flow(body=[chat(user="x")])
    with pytest.raises(Reject) as caught:
        await BindSession()(flow)
    assert caught.value.status == 403


@pytest.mark.parametrize(
    "key",
    [
        "oss:alice:openai-user:team",
        "agent:main:oss:alice:openai-user:team",
        "AGENT:ops:OSS:ALICE:openai:123",
        "%20oss%3Aalice%3Aopenai-user%3Ateam%20",
    ],
)
async def test_own_session_may_be_read_by_path(key: str) -> None:
    """/sessions/<key>/history of the caller's own session (any spelling OpenClaw accepts)
    passes."""
    flow = make_flow(f"/sessions/{key}/history", method="GET")
    flow.actor = "alice"
    await BindSession()(flow)
    assert flow.response is None


@pytest.mark.parametrize(
    "key",
    [
        "oss:ci:openai-user:team",
        "agent:main:oss:ci:openai-user:team",
        "agent:main:openai-user:team",
        "main",
        "agent:main:main",
        "oss:alicex:openai-user:team",
        "oss:ali:openai-user:team",
        "agent:oss:alice:openai-user:team",
        "x-oss:alice:openai-user:team",
        "oss%3Aci%3Aopenai-user%3Ateam",
    ],
)
@pytest.mark.parametrize("action", ["history", "kill"])
async def test_other_sessions_are_refused_by_path(key: str, action: str) -> None:
    """Another client's session, OpenClaw's own sessions, and near misses of alice's prefix are
    403 foreign_session."""
    flow = make_flow(f"/sessions/{key}/{action}", method="GET")
    flow.actor = "alice"
    with pytest.raises(Reject) as caught:
        await BindSession()(flow)
    assert (caught.value.status, caught.value.code) == (403, "foreign_session")
