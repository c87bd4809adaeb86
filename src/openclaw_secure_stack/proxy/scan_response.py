"""ScanResponse stage: indirect-injection rules on what OpenClaw answers.

- `text/event-stream`: every chunk is passed on as soon as it arrives and scanned after; the text
  of each SSE `data:` event (OpenAI `choices[].delta` strings) is scanned together with the last
  `WINDOW` characters before it, so a phrase split across chunks is still caught. When the stream
  ends with findings, one SSE comment `: oss-response-findings RULE,...` is appended.
- JSON and other text bodies up to `max_buffer` bytes: held until complete (the head is not sent
  yet), scanned, and answered with `x-oss-response-findings: RULE,...` when something fired.
  Larger bodies stream through and are scanned with the same window as SSE.
Findings go to `flow.findings`; the audit stage writes them as a `proxy.stream` record. Responses
are scanned, never altered. A compressed body (`content-encoding` other than identity) cannot be
scanned and is recorded as such. The stage also sets `x-oss-request-findings` when the sanitizer
flagged or stripped the request.
"""

from __future__ import annotations

import asyncio
import codecs
import json
from collections.abc import AsyncIterable, AsyncIterator
from typing import ClassVar

from openclaw_secure_stack.detect import Detector, TextTooLarge
from openclaw_secure_stack.proxy.flow import Flow, Response
from openclaw_secure_stack.proxy.sanitize import REQUEST_FINDINGS_NOTE

WINDOW = 1024  # characters of earlier text rescanned with each new piece
TEXT_TYPES = ("application/json", "text/")
RESPONSE_HEADER = "x-oss-response-findings"
REQUEST_HEADER = "x-oss-request-findings"


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
    except (json.JSONDecodeError, UnicodeDecodeError):
        return data.decode("utf-8", errors="replace")
    choices = event.get("choices") if isinstance(event, dict) else None
    if isinstance(choices, list):
        deltas = [c.get("delta", c.get("message")) for c in choices if isinstance(c, dict)]
        return "".join(strings(deltas))
    return "\n".join(strings(event))


def body_text(body: bytes) -> str:
    try:
        return "\n".join(strings(json.loads(body)))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        return body.decode("utf-8", errors="replace")


class _Scanner:
    """Scans text as it arrives, remembering which rules already fired."""

    def __init__(self, detector: Detector, flow: Flow, stage: str) -> None:
        self._detector = detector
        self._flow = flow
        self._stage = stage
        self._carry = ""
        self.fired: list[str] = []

    def feed(self, text: str) -> None:
        if not text:
            return
        window = self._carry + text
        try:
            verdict = self._detector.detect(window, "indirect", source="response")
        except TextTooLarge:
            self.record("unscanned", "text over the engine's cap")
            return
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

    def record(self, rule: str, reason: str) -> None:
        self._flow.findings.append({"stage": self._stage, "rule": rule, "reason": reason})


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
        media_type = (response.headers.get("content-type") or "").split(";")[0].strip().lower()
        if not media_type.startswith(TEXT_TYPES) and media_type != "text/event-stream":
            return
        scanner = _Scanner(self._detector, flow, self.name)
        encoding = (response.headers.get("content-encoding") or "identity").strip().lower()
        if encoding != "identity":
            scanner.record("unscanned", f"content-encoding {encoding}")
            return
        if media_type == "text/event-stream":
            response.body = self._stream(response.body, scanner)
        else:
            response.body = self._whole(response, response.body, scanner)

    async def _stream(self, body: AsyncIterable[bytes], scanner: _Scanner) -> AsyncIterator[bytes]:
        pending = b""
        async for chunk in body:
            yield chunk
            pending += chunk
            *lines, pending = pending.split(b"\n")
            if len(pending) > self._max_buffer:  # one endless line: scan what there is
                lines.append(pending)
                pending = b""
            texts = [
                event_text(line[5:].strip())
                for line in lines
                if line.startswith(b"data:") and line[5:].strip() != b"[DONE]"
            ]
            scanner.feed("".join(texts))
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
            text = body_text(content)
            if len(content) > self._thread_threshold:
                await asyncio.to_thread(scanner.feed, text)
            else:
                scanner.feed(text)
            if scanner.fired:
                response.headers.set(RESPONSE_HEADER, ",".join(scanner.fired))
            if content:
                yield content
            return
        # Too large to hold: pass it on and scan it as it streams.
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        for chunk in held:
            yield chunk
            scanner.feed(decoder.decode(chunk))
        async for chunk in body:
            yield chunk
            scanner.feed(decoder.decode(chunk))
