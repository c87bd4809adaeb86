"""Auth stage: every request carries a named client bearer token, except a few exact paths.

Tokens are stored as SHA-256 digests; the presented token is hashed once and compared in constant
time against every stored digest (no early exit that would hint which name matched). The client's
Authorization header is removed here, so no later stage and no upstream ever sees it.
"""

from __future__ import annotations

import hashlib
import hmac
import string
from collections.abc import Mapping
from typing import ClassVar

import re2

from openclaw_secure_stack.proxy.flow import Flow
from openclaw_secure_stack.settings import Settings, SettingsError, parse_token_lines

EXEMPT_PATHS = frozenset({"/health", "/ready"})
MAX_AUTHORIZATION_BYTES = 1024
MIN_TOKEN_CHARS = 16

# RFC 6750 b64token characters (before any trailing '=').
_TOKEN_CHARS = frozenset(string.ascii_letters + string.digits + "-._~+/")
_SHA256 = re2.compile(r"sha256:([0-9a-fA-F]{64})")


def token_digests(tokens: Mapping[str, str], *, source: str) -> dict[str, bytes]:
    """name -> SHA-256 digest, from plain tokens or 'sha256:<hex>' entries."""
    digests: dict[str, bytes] = {}
    for name, token in tokens.items():
        hashed = _SHA256.fullmatch(token)
        if hashed:
            digests[name] = bytes.fromhex(hashed.group(1))
        elif token.lower().startswith("sha256:"):
            raise SettingsError(f"{source}: token {name!r} must be 'sha256:' and 64 hex digits")
        elif len(token) < MIN_TOKEN_CHARS or bearer_token(f"Bearer {token}") != token:
            raise SettingsError(
                f"{source}: token {name!r} must be at least {MIN_TOKEN_CHARS} characters of "
                "A-Z a-z 0-9 - . _ ~ + / (make one with: openclaw-secure-stack token new NAME)"
            )
        else:
            digests[name] = hashlib.sha256(token.encode()).digest()
    return digests


def bearer_token(value: str) -> str | None:
    """The token of `Bearer <b64token>` (scheme in any case, one or more spaces), else None.

    Plain string checks (no regex: this runs on every request): each step is linear."""
    scheme, _, rest = value.partition(" ")
    if not scheme.isascii() or scheme.lower() != "bearer":
        return None
    token = rest.lstrip(" ")
    core = token.rstrip("=")
    if not core or not _TOKEN_CHARS.issuperset(core):
        return None
    return token


class Auth:
    name: ClassVar[str] = "auth"
    sees_answered: ClassVar[bool] = False

    def __init__(self, digests: Mapping[str, bytes], exempt: frozenset[str] = EXEMPT_PATHS) -> None:
        self._digests = list(digests.items())
        self._exempt = exempt

    @classmethod
    def from_settings(cls, settings: Settings) -> Auth:
        """Merge CLIENT_TOKENS and CLIENT_TOKENS_FILE; at least one token is required."""
        digests = token_digests(settings.client_tokens, source="CLIENT_TOKENS")
        if settings.client_tokens_file is not None:
            source = f"CLIENT_TOKENS_FILE ({settings.client_tokens_file})"
            try:
                text = settings.client_tokens_file.read_text(encoding="utf-8")
                from_file = parse_token_lines(text, source=source)
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                raise SettingsError(f"{source}: {exc}") from None
            for name, digest in token_digests(from_file, source=source).items():
                if name in digests:
                    raise SettingsError(f"{source}: token name {name!r} is also in CLIENT_TOKENS")
                digests[name] = digest
        if not digests:
            raise SettingsError(
                "CLIENT_TOKENS: no client tokens configured; set CLIENT_TOKENS=name:token or "
                "CLIENT_TOKENS_FILE (make one with: openclaw-secure-stack token new NAME)"
            )
        return cls(digests)

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
