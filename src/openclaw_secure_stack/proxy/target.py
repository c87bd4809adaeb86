"""Request-target validation: one path, one spelling, decided on the raw bytes before anything else.

The path is accepted only in a canonical form that every server decodes the same way, so what is
authorized is exactly what is forwarded. Anything a decoder or normalizer could read differently
is rejected with 400 instead of being "cleaned": encoded `/`, `\\` and `.`, percent-encoded
characters that need no encoding, double encoding, dot segments, `//`, `;` parameters, control
characters, non-UTF-8 and overlong sequences, and non-ASCII look-alikes of `/`, `\\`, `.`, `;`.
Paths OpenClaw rewrites before it routes them (`/__openclaw__/cap/<capability>/<path>`) are
refused too: the proxy would scan one path while OpenClaw serves another.

The method is decided here as well: HTTP methods are case-sensitive (RFC 9110), so only the
canonical upper-case spelling of an allowed method passes; `post` is not `POST` with other
manners but a different method, and a client library upstream (aiohttp upper-cases) would
otherwise turn it into the `POST` that the sanitizer never looked at.
"""

from __future__ import annotations

import string
import unicodedata

from openclaw_secure_stack.proxy.flow import Reject

MAX_TARGET_BYTES = 8192

_PCHAR = frozenset((string.ascii_letters + string.digits + "-._~!$&'()*+,=:@/%").encode())
_UNRESERVED = frozenset((string.ascii_letters + string.digits + "-._~").encode())
_HEX = frozenset(b"0123456789abcdefABCDEF")
# Decoded bytes that would change the path's structure (or be decoded again) if a server decoded.
_STRUCTURAL = frozenset(b"/\\.%;") | frozenset(range(0x20)) | {0x7F}
_LOOKALIKE = frozenset("/\\.;%")
_CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_QUERY_BYTES = frozenset(range(0x21, 0x7F)) - {ord("#")}
# OpenClaw 2026.9.6 `normalizePluginNodeCapabilityScopedUrl` (dist/plugin-node-capability-*.mjs)
# strips this prefix and one capability segment, then routes the rest ("/v1/chat/completions").
_REWRITTEN_PREFIX = "/__openclaw__/cap"
ALLOWED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


class MethodNotAllowed(Reject):
    """405 for a method outside `ALLOWED_METHODS` (in any spelling but the canonical one)."""

    def __init__(self, method: str) -> None:
        shown = method if method.isascii() and method.isprintable() else repr(method)
        super().__init__(
            405,
            "method_not_allowed",
            f"method {shown[:32]!r} is not allowed; methods are "
            "case-sensitive: use one of " + ", ".join(ALLOWED_METHODS),
        )


def validated_method(method: str) -> str:
    """`method` if it is one of `ALLOWED_METHODS` exactly as spelled there; else 405."""
    if method not in ALLOWED_METHODS:
        raise MethodNotAllowed(method)
    return method


def _bad(message: str) -> Reject:
    return Reject(400, "bad_target", message)


def validated_path(raw_path: bytes) -> str:
    """The raw path as text if it is canonical and unambiguous; otherwise raise Reject(400)."""
    if not raw_path.startswith(b"/"):
        raise _bad("the request target must be a path starting with '/'")
    if len(raw_path) > MAX_TARGET_BYTES:
        raise _bad(f"the request target is longer than {MAX_TARGET_BYTES} bytes")
    for byte in raw_path:
        if byte not in _PCHAR:
            raise _bad(f"the path contains a character that is not allowed: {chr(byte)!r}")
    if b"//" in raw_path:
        raise _bad("the path contains an empty segment ('//')")
    if any(segment in (b".", b"..") for segment in raw_path.split(b"/")):
        raise _bad("the path contains a '.' or '..' segment")
    if b"%" in raw_path:
        _check_percent_encoding(raw_path)
    path = raw_path.decode("ascii")
    if path == _REWRITTEN_PREFIX or path.startswith(_REWRITTEN_PREFIX + "/"):
        raise _bad("capability-scoped paths are rewritten by OpenClaw and not forwarded")
    return path


def _check_percent_encoding(raw_path: bytes) -> None:
    decoded = bytearray()
    index = 0
    while index < len(raw_path):
        byte = raw_path[index]
        if byte != ord("%"):
            decoded.append(byte)
            index += 1
            continue
        digits = raw_path[index + 1 : index + 3]
        if len(digits) != 2 or not all(d in _HEX for d in digits):
            raise _bad("the path contains a malformed percent-encoding")
        value = int(digits, 16)
        if value in _STRUCTURAL:
            raise _bad(f"the path contains an encoded {chr(value)!r}")
        if value in _UNRESERVED:
            raise _bad(f"the path encodes {chr(value)!r}, which must be sent unencoded")
        decoded.append(value)
        index += 3
    try:
        text = decoded.decode("utf-8")
    except UnicodeDecodeError:
        raise _bad("the path's percent-encoding is not valid UTF-8") from None
    for char in text:
        if char.isascii():
            continue
        if unicodedata.category(char) in _CONTROL_CATEGORIES:
            raise _bad(f"the path contains the control or format character U+{ord(char):04X}")
        if _LOOKALIKE & set(unicodedata.normalize("NFKC", char)):
            raise _bad(f"the path contains U+{ord(char):04X}, a look-alike of a path delimiter")


def validated_query(raw_query: bytes) -> str:
    """The raw query string, forwarded as received; only printable ASCII is accepted."""
    if len(raw_query) > MAX_TARGET_BYTES:
        raise _bad(f"the query string is longer than {MAX_TARGET_BYTES} bytes")
    if any(byte not in _QUERY_BYTES for byte in raw_query):
        raise _bad("the query string contains a character that is not allowed")
    return raw_query.decode("ascii")
