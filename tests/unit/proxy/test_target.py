"""Request-target validation: canonical paths pass unchanged, ambiguous ones are a 400."""

from __future__ import annotations

import pytest

from openclaw_secure_stack.proxy.flow import Reject
from openclaw_secure_stack.proxy.target import (
    ALLOWED_METHODS,
    MAX_TARGET_BYTES,
    validated_method,
    validated_path,
    validated_query,
)

ACCEPTED = [
    "/",
    "/health",
    "/v1/chat/completions",
    "/v1/models/openclaw:main",
    "/a-b_c~d.e/f",
    "/files/report%20final",
    "/caf%C3%A9",
    "/caf%c3%a9",
    "/emoji/%F0%9F%98%80",
    "/a/b.json",
    "/.well-known/x",
    "/a/...",
    "/q%3Fmark",
    "/trailing/",
]

REJECTED = {
    "absolute-form or relative": b"v1/chat",
    "asterisk-form": b"*",
    "empty": b"",
    "double slash": b"//v1/chat",
    "inner double slash": b"/v1//chat",
    "dot segment": b"/v1/./chat",
    "dot-dot segment": b"/health/../v1/chat",
    "trailing dot-dot": b"/v1/..",
    "encoded dot": b"/health/%2e%2e/v1",
    "encoded slash": b"/health%2fv1",
    "encoded slash upper": b"/health%2Fv1",
    "encoded backslash": b"/health%5cv1",
    "raw backslash": b"/health\\..\\v1",
    "double-encoded dot": b"/health/%252e%252e/v1",
    "encoded percent": b"/a%25",
    "semicolon": b"/health;/v1",
    "encoded semicolon": b"/health%3b",
    "NUL": b"/health\x00",
    "encoded NUL": b"/health%00",
    "encoded newline": b"/a%0d%0aX-Injected:1",
    "encoded DEL": b"/a%7f",
    "raw space": b"/a b",
    "raw non-ASCII": "/café".encode(),
    "truncated escape": b"/a%2",
    "bad hex": b"/a%zz",
    "overlong dot": b"/%c0%ae%c0%ae/v1",
    "overlong slash": b"/a%c0%afb",
    "lone continuation": b"/a%80",
    "surrogate": b"/a%ed%a0%80",
    "encoded unreserved letter": b"/h%65alth",
    "encoded tilde": b"/%7euser",
    "fullwidth full stop": b"/%EF%BC%8E%EF%BC%8E/v1",
    "fullwidth solidus": b"/health%EF%BC%8Fv1",
    "one dot leader": b"/%E2%80%A4%E2%80%A4/v1",
    "fullwidth reverse solidus": b"/a%EF%BC%BCb",
    "zero-width space": b"/he%E2%80%8Balth",
    "next line C1 control": b"/a%C2%85",
    "right-to-left override": b"/a%E2%80%AEb",
    "too long": b"/" + b"a" * MAX_TARGET_BYTES,
    "capability-scoped path": b"/__openclaw__/cap/x/v1/chat/completions",
    "capability prefix alone": b"/__openclaw__/cap",
}


@pytest.mark.parametrize("path", ACCEPTED)
def test_canonical_path_is_returned_unchanged(path: str) -> None:
    """A canonical path is accepted and returned byte for byte (it is what gets forwarded)."""
    assert validated_path(path.encode()) == path


@pytest.mark.parametrize("raw", REJECTED.values(), ids=REJECTED.keys())
def test_ambiguous_path_is_rejected_with_400(raw: bytes) -> None:
    """Every ambiguous or non-canonical spelling is a 400 bad_target, never cleaned up."""
    with pytest.raises(Reject) as caught:
        validated_path(raw)
    assert (caught.value.status, caught.value.code) == (400, "bad_target")


def test_query_is_forwarded_as_received() -> None:
    """A printable-ASCII query string passes unchanged, percent-encoding included."""
    assert validated_query(b"a=1&b=%2F..%00") == "a=1&b=%2F..%00"


@pytest.mark.parametrize("raw", [b"a=\x00", b"a= b", "a=é".encode(), b"a=\x7f"])
def test_query_with_raw_control_or_non_ascii_is_rejected(raw: bytes) -> None:
    """Raw control, space and non-ASCII bytes in the query are a 400."""
    with pytest.raises(Reject) as caught:
        validated_query(raw)
    assert caught.value.status == 400


@pytest.mark.parametrize("method", ALLOWED_METHODS)
def test_canonical_method_is_returned_unchanged(method: str) -> None:
    """An allowed method in its canonical spelling passes as is."""
    assert validated_method(method) == method


@pytest.mark.parametrize(
    "method",
    ["post", "Post", "gEt", "POST ", " POST", "P\u039fST", "CONNECT", "TRACE", "", "X" * 4096],
)
def test_other_method_spellings_are_405(method: str) -> None:
    """Lower or mixed case, padding, look-alikes and unlisted methods are a 405."""
    with pytest.raises(Reject) as info:
        validated_method(method)
    assert (info.value.status, info.value.code) == (405, "method_not_allowed")
    assert len(info.value.message) < 200
