"""Auth stage: every request carries a named client bearer token, except a few exact paths.

Tokens are stored as SHA-256 digests; the presented token is hashed once and compared in constant
time against every stored digest (no early exit that would hint which name matched). The client's
Authorization header is removed here, so no later stage and no upstream ever sees it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import ClassVar

from openclaw_secure_stack.proxy.flow import Flow
from openclaw_secure_stack.settings import TOKEN_CHARS

EXEMPT_PATHS = frozenset({"/health", "/ready"})
MAX_AUTHORIZATION_BYTES = 1024


def bearer_token(value: str) -> str | None:
    """The token of `Bearer <b64token>` (scheme in any case, one or more spaces), else None.

    Plain string checks (no regex: this runs on every request): each step is linear."""
    scheme, _, rest = value.partition(" ")
    if not scheme.isascii() or scheme.lower() != "bearer":
        return None
    token = rest.lstrip(" ")
    core = token.rstrip("=")
    if not core or not TOKEN_CHARS.issuperset(core):
        return None
    return token


class Auth:
    name: ClassVar[str] = "auth"
    sees_answered: ClassVar[bool] = False

    def __init__(self, digests: Mapping[str, bytes], exempt: frozenset[str] = EXEMPT_PATHS) -> None:
        self._digests = list(digests.items())
        self._exempt = exempt

    async def __call__(self, flow: Flow) -> None:
        headers = flow.request.headers
        if flow.request.path in self._exempt:
            headers.remove("authorization")
            return
        values = headers.get_all("authorization")
        headers.remove("authorization")
        if len(values) > 1:
            flow.deny(400, "duplicate_authorization", "send exactly one Authorization header")
            return
        value = values[0].strip() if values else ""
        if len(value) > MAX_AUTHORIZATION_BYTES:
            flow.deny(400, "oversized_authorization", "the Authorization header is too long")
            return
        if value == "" or value.lower() == "bearer":
            denial = flow.deny(401, "missing_token", "send Authorization: Bearer <token>")
            denial.headers.set("www-authenticate", 'Bearer realm="openclaw"')
            return
        token = bearer_token(value)
        if token is None:
            flow.deny(400, "malformed_authorization", "expected Authorization: Bearer <token>")
            return
        name = self._match(token)
        if name is None:
            flow.deny(403, "invalid_token", "the token is not valid")
            return
        flow.actor = name

    def _match(self, token: str) -> str | None:
        presented = hashlib.sha256(token.encode()).digest()
        matches = [name for name, digest in self._digests if hmac.compare_digest(presented, digest)]
        return matches[0] if matches else None
