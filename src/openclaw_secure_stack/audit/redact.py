"""Keep secrets out of audit details: fingerprint what must be correlated, redact the rest.

The audit log is read by people and shipped to other systems, so it must never hold a token,
password or key. `AuditLog` runs every event's details through `redact()`; callers that need
to correlate a secret across records (which token was used?) put `fingerprint(secret)` in.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping

import re2

REDACTED = "[redacted]"

# A key whose name contains one of these words holds a secret unless its value is a number,
# a boolean, null or a fingerprint (so `max_tokens: 256` and `token: "sha256:…"` survive).
_SECRET_KEY = re2.compile(
    r"(?i)(token|authori[sz]ation|passw(or)?d|secret|api[_-]?key|cookie|credential|private[_-]?key|signature)"
)
_FINGERPRINT = re2.compile(r"^sha256:[0-9a-f]{16}$")
# Credentials that show up as values under innocent keys (a copied header value).
_CREDENTIAL_SCHEMES = ("bearer", "basic")


def fingerprint(secret: str | bytes) -> str:
    """A short, stable, non-reversible name for a high-entropy secret: `sha256:<16 hex>`."""
    data = secret.encode() if isinstance(secret, str) else secret
    return "sha256:" + hashlib.sha256(data).hexdigest()[:16]


def redact(details: Mapping[str, object]) -> dict[str, object]:
    """A copy of `details` with secret-looking keys and credential-looking values redacted."""
    return {str(key): _redact_entry(str(key), value) for key, value in details.items()}


def _redact_entry(key: str, value: object) -> object:
    if _is_secret_key(key) and not _is_harmless(value):
        return REDACTED
    return _redact_value(value)


def _redact_value(value: object) -> object:
    # Plain text and numbers first: most detail values are, and the Mapping check is an ABC's.
    if type(value) is str:
        return REDACTED if _is_credential(value) else value
    if value is None or type(value) is int or type(value) is bool:
        return value
    if isinstance(value, Mapping):
        return redact(value)
    if isinstance(value, list | tuple):
        return [_redact_value(item) for item in value]
    if isinstance(value, str) and _is_credential(value):
        return REDACTED
    return value


@functools.lru_cache(maxsize=1024)
def _is_secret_key(key: str) -> bool:
    # Detail keys come from a small vocabulary, and this runs for every key of every event.
    return _SECRET_KEY.search(key) is not None


def _is_credential(value: str) -> bool:
    words = value[:64].split(maxsplit=2)
    return len(words) >= 2 and words[0].lower() in _CREDENTIAL_SCHEMES


def _is_harmless(value: object) -> bool:
    if value is None or isinstance(value, bool | int | float):
        return True
    return isinstance(value, str) and _FINGERPRINT.match(value) is not None
