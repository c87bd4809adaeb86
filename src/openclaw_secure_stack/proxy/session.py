"""BindSession stage: the OpenClaw session a request reaches belongs to the client that sent it.

OpenClaw 2026.9.6 picks the session of `/v1/chat/completions` and `/v1/responses` from the
`X-OpenClaw-Session-Key` header if present, else from the body's `user`
(`agent:<agent>:openai-user:<user>`), else a fresh one; on `/v1/responses` a
`previous_response_id` continues the session it was answered in, for any caller with the same
gateway token and the same `X-OpenClaw-Session-Key`. Every client reaches OpenClaw with the one
gateway token, so all of that would let client `alice` continue client `ci`'s session.

This stage therefore always sets the session key itself, from the caller's token name and the
body's `user`: `oss:<client>:openai-user:<user>` (`openresponses-user` on `/v1/responses`), or
`oss:<client>:openai:<request id>` (a fresh session) without a usable `user`. The client's own
`X-OpenClaw-Session-Key` never passes (the forwarder's header allowlist), and since OpenClaw
scopes `previous_response_id` by that header, a response id of another client no longer matches.
Both parts are encoded so that OpenClaw's lower-casing cannot merge two clients (`Alice`,
`alice`) and no character of `user` can leave the client's namespace or break the header.

Other routes select a session too: `/sessions/<key>/history` and `/sessions/<key>/kill` name it
in the path (403 `foreign_session` unless it is in the caller's namespace). `/tools/invoke`, which
runs any tool in any session named in its body, never gets here: the Routes stage refuses it.
"""

from __future__ import annotations

import json
from typing import ClassVar
from urllib.parse import quote, unquote

from openclaw_secure_stack.proxy.flow import Flow, Reject

SESSION_HEADER = "x-openclaw-session-key"
# Path -> the prefix OpenClaw itself gives sessions of that endpoint.
SESSION_PATHS = {"/v1/chat/completions": "openai", "/v1/responses": "openresponses"}
SESSION_ROUTES = "/sessions/"  # OpenClaw: /sessions/<url-encoded key>/(history|kill)
MAX_USER_CHARS = 256
_LOWER_SAFE = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-._")


def client_label(actor: str) -> str:
    """`actor` as a session-key segment that stays distinct after OpenClaw lower-cases it:
    lower-case letters, digits and `-._` as they are, every other byte as `%XX`."""
    return "".join(
        char if char in _LOWER_SAFE else "".join(f"%{byte:02x}" for byte in char.encode())
        for char in actor
    )


def session_key(actor: str, endpoint: str, user: str | None, request_id: str) -> str:
    """The session key OpenClaw gets for this caller; `user` as OpenClaw reads it (trimmed)."""
    namespace = f"oss:{client_label(actor)}:{endpoint}"
    if not user:
        return f"{namespace}:{request_id}"
    return f"{namespace}-user:{quote(user, safe='')}"


def owns(actor: str, key: str) -> bool:
    """Whether session `key`, read as OpenClaw reads it (trimmed, any case, with or without its
    `agent:<id>:` prefix), lies in `actor`'s namespace."""
    lowered = key.strip().lower()
    if lowered.startswith("agent:"):
        lowered = lowered[len("agent:") :].partition(":")[2]
    return lowered.startswith(f"oss:{client_label(actor)}:")


def body_user(content: bytes) -> str | None:
    """The body's `user` when it is a non-empty string (else OpenClaw ignores it or refuses)."""
    try:
        document = json.loads(content)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        return None
    user = document.get("user") if isinstance(document, dict) else None
    if not isinstance(user, str):
        return None
    user = user.strip()
    if len(user) > MAX_USER_CHARS:
        raise Reject(400, "invalid_user", f"'user' must be at most {MAX_USER_CHARS} characters")
    return user or None


class BindSession:
    name: ClassVar[str] = "session"
    sees_answered: ClassVar[bool] = False

    async def __call__(self, flow: Flow) -> None:
        path = flow.request.path
        endpoint = SESSION_PATHS.get(path)
        named = path.startswith(SESSION_ROUTES)
        if endpoint is None and not named:
            return
        actor = flow.actor
        if actor is None:
            # Auth lets only exempt paths through without a name; these are not exempt.
            raise Reject(403, "no_client", "the request has no authenticated client")
        if endpoint is None:
            if not owns(actor, unquote(path.split("/")[2])):
                raise Reject(403, "foreign_session", "that session belongs to another client")
            return
        user = body_user(await flow.request.body.read())
        key = session_key(actor, endpoint, user, flow.request_id)
        flow.upstream_headers.set(SESSION_HEADER, key)
        flow.notes["session"] = key
