"""Server-sent events: parse a provider's byte stream into events, and write our own.

The parser follows the SSE format as far as model providers use it: `event:` and `data:` fields
(several `data:` lines joined by newlines), comments ignored, `\\n` or `\\r\\n` line ends, an
event ended by a blank line. An event larger than `max_event_bytes` is an error, so a provider
that never ends an event cannot grow the buffer without bound.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

from openclaw_secure_stack.model_gateway import codec


class EventTooLarge(ValueError):
    pass


@dataclass(frozen=True)
class Event:
    event: str
    data: str


class SSEParser:
    def __init__(self, max_event_bytes: int) -> None:
        self._max = max_event_bytes
        self._buffer = b""
        self._event = ""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[Event]:
        self._buffer += chunk
        events: list[Event] = []
        if b"\n" in chunk:
            *lines, self._buffer = self._buffer.split(b"\n")
            for raw in lines:
                event = self._line(raw.rstrip(b"\r").decode("utf-8", "replace"))
                if event is not None:
                    events.append(event)
        if len(self._buffer) + sum(len(line) for line in self._data) > self._max:
            raise EventTooLarge(f"an event exceeds {self._max} bytes")
        return events

    def _line(self, line: str) -> Event | None:
        if not line:
            if not self._data and not self._event:
                return None
            event = Event(self._event or "message", "\n".join(self._data))
            self._event, self._data = "", []
            return event
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        return None


async def batches(chunks: AsyncIterable[bytes], max_event_bytes: int) -> AsyncIterator[list[Event]]:
    """The events of each network read together, so what arrived together is sent on together
    (one write instead of one per event); a read that completes no event yields nothing."""
    parser = SSEParser(max_event_bytes)
    async for chunk in chunks:
        events = parser.feed(chunk)
        if events:
            yield events


def data_line(payload: object) -> bytes:
    """One `data:` event carrying `payload` as JSON."""
    return b"data: " + codec.dumps(payload) + b"\n\n"


DONE = b"data: [DONE]\n\n"
