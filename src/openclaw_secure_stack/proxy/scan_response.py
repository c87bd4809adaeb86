"""ScanResponse stage: indirect-injection rules on every reply from OpenClaw, before the client
gets any of it.

- The forwarder asks OpenClaw for `Accept-Encoding: identity`. A reply encoded anyway
  (`Content-Encoding` other than identity) cannot be scanned: it is refused with 502
  `upstream_encoded` and the finding `unscannable`; nothing of it reaches the client.
- `text/event-stream`: parsed as the SSE spec says (`SseEvents`: lines end in CRLF, LF or CR, a
  blank line ends an event, one leading BOM is ignored). Each complete event is scanned (the text
  of its `data:` payload: OpenAI `choices[].delta` strings, else every JSON string, else the raw
  text) together with the last `WINDOW` characters before it, so a phrase split across events is
  still caught, and only then passed on, byte for byte as it came. When the stream ends with
  findings, one SSE comment `: oss-response-findings RULE,...` is appended.
- Every other reply, whatever its content type (JSON, text, binary, none): held until complete up
  to `max_buffer` bytes (the head is not sent yet), scanned (the raw text, and the strings of the
  JSON document or of each JSON line), and answered with `x-oss-response-findings: RULE,...` when
  something fired. A larger body is scanned chunk by chunk before each chunk is passed on; as it
  can no longer carry the header, a finding cuts it off (502 `response_flagged` before the first
  byte, else a broken connection): the client never gets flagged text unmarked.
Findings go to `flow.findings`; the audit stage writes them as a `proxy.stream` record, also when
the client leaves early (the event was scanned before it was sent). The stage also sets
`x-oss-request-findings` when the sanitizer flagged or stripped the request.
"""

from __future__ import annotations

import asyncio
import codecs
import json
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import ClassVar

from openclaw_secure_stack.detect import Detector
from openclaw_secure_stack.proxy.flow import Flow, Reject, Response
from openclaw_secure_stack.proxy.sanitize import REQUEST_FINDINGS_NOTE

WINDOW = 1024  # characters of earlier text rescanned with each new piece
RESPONSE_HEADER = "x-oss-response-findings"
REQUEST_HEADER = "x-oss-request-findings"
_BOM = b"\xef\xbb\xbf"
_CR, _LF = 13, 10


def strings(value: object) -> list[str]:
    """Every string inside a parsed JSON value, in document order (depth first)."""
    found: list[str] = []
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, dict):
            pending.extend(reversed(item.values()))
        elif isinstance(item, list):
            pending.extend(reversed(item))
    return found


def event_text(data: bytes) -> str:
    """The model-written text of one SSE `data:` payload."""
    try:
        event = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        return data.decode("utf-8", errors="replace")
    choices = event.get("choices") if isinstance(event, dict) else None
    if isinstance(choices, list):
        deltas = [c.get("delta", c.get("message")) for c in choices if isinstance(c, dict)]
        return "".join(strings(deltas))
    return "\n".join(strings(event))


def body_text(body: bytes) -> str:
    """What to scan in a whole reply: the strings of a JSON document; otherwise the raw text
    plus the strings of every line that is JSON (JSON lines, or SSE sent under another type),
    so JSON escapes cannot hide text from the rules."""
    try:
        return "\n".join(strings(json.loads(body)))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        pass
    text = body.decode("utf-8", errors="replace")
    decoded: list[str] = []
    for line in text.splitlines():
        payload = line.strip().removeprefix("data:").strip()
        if payload[:1] in ("{", "[", '"'):
            try:
                decoded.extend(strings(json.loads(payload)))
            except (json.JSONDecodeError, RecursionError):
                continue
    return "\n".join([text, *decoded])


@dataclass(frozen=True)
class SseEvent:
    """One event as it came (`raw`), and its `data:` lines joined (None: no data field).
    `forced` marks bytes released without an event boundary (see `SseEvents`)."""

    raw: bytes
    data: bytes | None
    forced: bool = False

    def text(self) -> str:
        if self.forced:
            return self.raw.decode("utf-8", errors="replace")
        if self.data is None or self.data.strip() == b"[DONE]":
            return ""
        return event_text(self.data)


class SseEvents:
    """Splits an SSE byte stream into whole events, as a client's parser would (HTML's
    EventSource rules): lines end in CRLF, LF or CR; a blank line ends an event; `data` field
    values are joined with LF; one BOM at the start of the stream is ignored.

    A CR ends its line at once, like a browser's parser (an event ending in CR is not held while
    the stream pauses); an LF right after it, even in the next chunk, is skipped. More than
    `max_pending` bytes without an event boundary are released as one `forced` event (scanned as
    raw text), and the rest of a line cut that way counts as data, so nothing passes unscanned.
    """

    def __init__(self, max_pending: int) -> None:
        self._buffer = bytearray()
        self._max_pending = max_pending
        self._pos = 0  # where the next unparsed line starts
        self._data: list[bytes] = []
        self._has_data = False
        self._at_start = True
        self._cut_line = False
        self._skip_lf = False  # the last line ended in a CR at the end of a chunk

    def feed(self, chunk: bytes, *, final: bool = False) -> list[SseEvent]:
        """The events completed by `chunk`; with `final`, whatever is left as a last one."""
        buffer = self._buffer
        buffer += chunk
        if self._at_start:
            if not final and len(buffer) < len(_BOM) and _BOM.startswith(buffer):
                return []
            self._at_start = False
            if buffer.startswith(_BOM):
                self._pos = len(_BOM)
        events: list[SseEvent] = []
        released = 0
        pos = self._pos
        next_cr = next_lf = -1
        end_of_buffer = len(buffer)
        if self._skip_lf and pos < end_of_buffer:
            self._skip_lf = False
            pos += buffer[pos] == _LF
        while True:
            if next_cr < pos:
                next_cr = _find(buffer, b"\r", pos, end_of_buffer)
            if next_lf < pos:
                next_lf = _find(buffer, b"\n", pos, end_of_buffer)
            end = min(next_cr, next_lf)
            if end == end_of_buffer:
                break
            after = end + 1
            if buffer[end] == _CR:
                if after == end_of_buffer:
                    self._skip_lf = True
                elif buffer[after] == _LF:
                    after += 1
            line = bytes(buffer[pos:end])
            pos = after
            if line or self._cut_line:
                self._field(line)
            else:
                events.append(self._event(bytes(buffer[released:pos])))
                released = pos
        if final and released < end_of_buffer:
            if pos < end_of_buffer:
                self._field(bytes(buffer[pos:]))
            events.append(self._event(bytes(buffer[released:])))
            released = pos = end_of_buffer
        elif end_of_buffer - released > self._max_pending:
            self._cut_line = pos < end_of_buffer
            events.append(SseEvent(bytes(buffer[released:]), None, forced=True))
            self._data, self._has_data = [], False
            released = pos = end_of_buffer
        del buffer[:released]
        self._pos = pos - released
        return events

    def _field(self, line: bytes) -> None:
        if self._cut_line:  # the rest of a line whose start was released raw
            self._cut_line = False
            name, value = b"data", line
        elif line.startswith(b":"):
            return
        else:
            name, _, value = line.partition(b":")
            value = value.removeprefix(b" ")
        if name == b"data":
            self._data.append(value)
            self._has_data = True

    def _event(self, raw: bytes) -> SseEvent:
        data = b"\n".join(self._data) if self._has_data else None
        self._data, self._has_data = [], False
        return SseEvent(raw, data)


def _find(buffer: bytearray, needle: bytes, start: int, missing: int) -> int:
    found = buffer.find(needle, start)
    return missing if found < 0 else found


class _Scanner:
    """Scans text as it arrives, remembering which rules already fired."""

    def __init__(self, detector: Detector, flow: Flow, stage: str) -> None:
        self._detector = detector
        self._flow = flow
        self._stage = stage
        self._carry = ""
        # Slices the engine accepts with the carried window in front.
        self._slice = max(WINDOW, detector.limits.max_text_chars - WINDOW)
        self.fired: list[str] = []

    def feed(self, text: str) -> None:
        for start in range(0, len(text), self._slice):
            self._feed(text[start : start + self._slice])

    def _feed(self, text: str) -> None:
        window = self._carry + text
        verdict = self._detector.detect(window, "indirect", source="response")
        for rule_id in verdict.rule_ids:
            if rule_id not in self.fired:
                self.fired.append(rule_id)
                rule = self._detector.rule("indirect", rule_id)
                self._flow.findings.append(
                    {
                        "stage": self._stage,
                        "rule": rule_id,
                        "severity": rule.severity,
                        "action": rule.action,
                    }
                )
        self._carry = window[-WINDOW:]


class ScanResponse:
    name: ClassVar[str] = "scan_response"
    sees_answered: ClassVar[bool] = True

    def __init__(self, detector: Detector, *, thread_threshold: int, max_buffer: int) -> None:
        self._detector = detector
        self._thread_threshold = thread_threshold
        self._max_buffer = max_buffer

    async def __call__(self, flow: Flow) -> None:
        response = flow.response
        if response is None:
            return
        request_rules = flow.notes.get(REQUEST_FINDINGS_NOTE)
        if isinstance(request_rules, list) and request_rules:
            response.headers.set(REQUEST_HEADER, ",".join(request_rules))
        if response.origin != "upstream":
            return
        encodings = {
            token.strip().lower()
            for value in response.headers.get_all("content-encoding")
            for token in value.split(",")
        }
        if not encodings <= {"identity", ""}:
            named = ",".join(sorted(encodings - {"identity", ""}))
            flow.findings.append(
                {"stage": self.name, "rule": "unscannable", "reason": f"content-encoding {named}"}
            )
            flow.deny(502, "upstream_encoded", "OpenClaw sent an encoded reply; it was refused")
            return
        scanner = _Scanner(self._detector, flow, self.name)
        media_type = (response.headers.get("content-type") or "").split(";")[0].strip().lower()
        if media_type == "text/event-stream":
            response.headers.remove("content-length")  # the findings comment may follow
            response.body = self._stream(response.body, scanner)
        else:
            response.body = self._whole(response, response.body, scanner)

    async def _stream(self, body: AsyncIterable[bytes], scanner: _Scanner) -> AsyncIterator[bytes]:
        events = SseEvents(self._max_buffer)
        async for chunk in body:
            ready = events.feed(chunk)
            if ready:
                await self._scan(scanner, "".join(event.text() for event in ready))
                yield b"".join(event.raw for event in ready)
        last = events.feed(b"", final=True)
        if last:
            await self._scan(scanner, "".join(event.text() for event in last))
            yield b"".join(event.raw for event in last)
        if scanner.fired:
            yield f": oss-response-findings {','.join(scanner.fired)}\n\n".encode()

    async def _whole(
        self, response: Response, upstream_body: AsyncIterable[bytes], scanner: _Scanner
    ) -> AsyncIterator[bytes]:
        held: list[bytes] = []
        size = 0
        body = aiter(upstream_body)
        async for chunk in body:
            held.append(chunk)
            size += len(chunk)
            if size > self._max_buffer:
                break
        else:
            content = b"".join(held)
            await self._scan(scanner, body_text(content))
            if scanner.fired:
                response.headers.set(RESPONSE_HEADER, ",".join(scanner.fired))
            if content:
                yield content
            return
        # Too large to hold: each chunk is scanned before it leaves, and findings end the reply.
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        async for chunk in _chained(held, body):
            await self._scan(scanner, decoder.decode(chunk))
            if scanner.fired:
                raise Reject(502, "response_flagged", "OpenClaw's reply was flagged; cut off")
            yield chunk

    async def _scan(self, scanner: _Scanner, text: str) -> None:
        if len(text) <= self._thread_threshold:
            scanner.feed(text)
            return
        scan = asyncio.ensure_future(asyncio.to_thread(scanner.feed, text))
        try:
            await asyncio.shield(scan)
        except asyncio.CancelledError:
            # The client left mid-scan: finish it, so the audit record that follows has its
            # findings (the thread would run on regardless).
            await scan
            raise


async def _chained(first: list[bytes], rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    for chunk in first:
        yield chunk
    async for chunk in rest:
        yield chunk
