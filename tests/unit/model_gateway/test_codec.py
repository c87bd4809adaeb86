"""The gateway's JSON: orjson's speed, the standard library's reach, strict numbers."""

from __future__ import annotations

import json

import pytest

from openclaw_secure_stack.model_gateway import codec


@pytest.mark.parametrize(
    "raw",
    [
        b'{"temperature": NaN}',
        b'{"temperature": -Infinity}',
        b'{"temperature": 1e400}',
        b'{"a": "unterminated}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a": "\xff"}',
    ],
    ids=["nan", "infinity", "out-of-range", "truncated", "deep", "bad-utf8"],
)
def test_what_no_provider_could_parse_is_refused(raw: bytes) -> None:
    with pytest.raises(codec.InvalidJSON):
        codec.loads(raw)


def test_a_lone_surrogate_is_read_and_written_back_as_an_escape() -> None:
    """OpenClaw cutting a tool result in the middle of an emoji sends a lone surrogate escape:
    valid JSON that orjson refuses, so the standard library reads and writes it."""
    raw = b'{"content": "cut \\ud83d", "n": 1}'
    document = codec.loads(raw)
    assert document == {"content": "cut \ud83d", "n": 1}
    written = codec.dumps(document)
    assert b"\\ud83d" in written
    assert json.loads(written) == document


def test_what_orjson_writes_reads_back_the_same() -> None:
    document = {"text": "zürich ✓", "n": 2**40, "x": 0.1, "list": [None, True, {"k": []}]}
    written = codec.dumps(document)
    assert written.decode() == json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    assert codec.loads(written) == document


def test_the_last_of_duplicate_keys_wins_as_in_the_standard_library() -> None:
    """The document scanned is the one forwarded: whichever parser reads it, one value."""
    assert codec.loads(b'{"a": 1, "a": 2}') == json.loads(b'{"a": 1, "a": 2}') == {"a": 2}
    assert codec.loads(b'{"a": "\\ud800", "a": 3}') == {"a": 3}
