"""The SSE parser reads providers' streams however the bytes are split."""

from __future__ import annotations

import pytest

from openclaw_secure_stack.model_gateway.sse import Event, EventTooLarge, SSEParser

STREAM = (
    b": keep-alive comment\n\n"
    b'event: message_start\ndata: {"a": 1}\n\n'
    b"data: line one\r\ndata: line two\r\n\r\n"
    b"data: [DONE]\n\n"
)
EXPECTED = [
    Event("message_start", '{"a": 1}'),
    Event("message", "line one\nline two"),
    Event("message", "[DONE]"),
]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, len(STREAM)])
def test_events_survive_any_split(size: int) -> None:
    """Split into pieces of any size, the stream gives the same events (CRLF, comments,
    multi-line data and named events included)."""
    parser = SSEParser(1024)
    events = [
        e
        for start in range(0, len(STREAM), size)
        for e in parser.feed(STREAM[start : start + size])
    ]
    assert events == EXPECTED


def test_an_endless_event_is_an_error() -> None:
    """An event that never ends cannot grow the buffer past the cap."""
    parser = SSEParser(100)
    parser.feed(b"data: " + b"x" * 50)
    with pytest.raises(EventTooLarge):
        parser.feed(b"x" * 60)


def test_many_data_lines_count_towards_the_cap() -> None:
    """The cap holds for an event built from many short data lines, too."""
    parser = SSEParser(100)
    with pytest.raises(EventTooLarge):
        parser.feed(b"data: 0123456789\n" * 20)
