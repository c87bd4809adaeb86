"""The model's reply on its way back to OpenClaw: text streams on, tool calls are decided first.

Text deltas pass as they arrive. Streamed `delta.tool_calls` pieces are assembled; when the
provider's reply is complete, each call gets its provenance recorded and is passed to the
decision hook, and the call is audited. Then the allowed calls are sent as one delta, each
blocked call is replaced by assistant text that says why, and the stream ends with a finish
reason (`tool_calls` only if a call remains), the usage chunk if the client asked for it, and
`data: [DONE]`. If the audit record cannot be written, no tool call is sent (audit before
effect). A provider failure mid-stream ends the stream with an OpenAI error event
(`data: {"error": ...}`), which OpenAI's clients raise as an error; its tool calls never pass.

Only structured calls are seen here: OpenClaw also recovers DeepSeek "DSML" tool calls written
as text, but only for a provider configured with `compat.thinkingFormat: "deepseek"`, which the
gateway's provider entry in OpenClaw's config must therefore never have.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from openclaw_secure_stack.model_gateway.decisions import (
    CallDecision,
    ProposedCall,
    ToolCallDecider,
)
from openclaw_secure_stack.model_gateway.errors import GatewayError, failed
from openclaw_secure_stack.model_gateway.provenance import Provenance, ProvenanceStore, ReadResult
from openclaw_secure_stack.model_gateway.sse import DONE, data_line

log = logging.getLogger(__name__)

Chunk = dict[str, Any]
# Where a legacy `function_call` is assembled: before any indexed call.
LEGACY_INDEX = -1


@dataclass(frozen=True)
class CallOutcome:
    """A proposed call and its decision, as audited (arguments as a hash)."""

    call_id: str
    name: str
    arguments_sha256: str
    allowed: bool
    reason: str

    def to_record(self) -> dict[str, object]:
        return {
            "id": self.call_id,
            "name": self.name,
            "arguments_sha256": self.arguments_sha256,
            "decision": "allow" if self.allowed else "block",
            "reason": self.reason,
        }


@dataclass
class ReplySummary:
    """What the audit record of one model call needs from its reply."""

    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    calls: list[CallOutcome] = field(default_factory=list)
    text_sha256: str = ""
    error: str | None = None


@dataclass
class _Assembly:
    call_id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)
    size: int = 0


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _json_object(arguments: str) -> bool:
    if not arguments.strip():
        return True
    try:
        return isinstance(json.loads(arguments), dict)
    except ValueError:
        return False


def block_text(name: str, call_id: str, reason: str) -> str:
    return (
        f"\n\n[OpenClaw Secure Stack blocked the tool call {name!r} ({call_id}): {reason}. "
        "It was not run.]"
    )


class ReplyGuard:
    """One model call's reply. `record` writes its audit event and raises if it cannot;
    `max_chars` bounds each call's arguments and a non-streamed reply."""

    def __init__(
        self,
        *,
        decider: ToolCallDecider,
        provenance: ProvenanceStore,
        record: Callable[[ReplySummary], None],
        request_id: str,
        model: str,
        read: tuple[ReadResult, ...],
        max_chars: int,
    ) -> None:
        self._decider = decider
        self._provenance = provenance
        self._record = record
        self._request_id = request_id
        self._model = model
        self._read = read
        self._max_chars = max_chars
        self._calls: dict[int, _Assembly] = {}
        self._template: Chunk = {
            "id": f"chatcmpl-{request_id}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
        }
        self._text = hashlib.sha256()
        self.summary = ReplySummary()
        self._recorded = False

    async def sse(
        self, batches: AsyncIterator[list[Chunk]], include_usage: bool
    ) -> AsyncIterator[bytes]:
        """The reply as OpenAI SSE bytes: what arrived together is sent on together."""
        try:
            async with contextlib.aclosing(self._guarded(batches)) as guarded:
                async for batch in guarded:
                    lines = [
                        data_line(chunk) for chunk in batch if include_usage or "usage" not in chunk
                    ]
                    if lines:
                        yield b"".join(lines)
        except GatewayError as exc:
            yield data_line(exc.payload())
            return
        except Exception:
            log.exception("model call %s failed while its reply streamed", self._request_id)
            yield data_line(failed().payload())
            return
        yield DONE

    async def completion(self, batches: AsyncIterator[list[Chunk]]) -> Chunk:
        """The reply as one `chat.completion` object (for a client that did not stream)."""
        text: list[str] = []
        calls: list[Chunk] = []
        finish: str | None = None
        usage: Chunk | None = None
        replies: list[Chunk] = []
        size = 0
        async with contextlib.aclosing(self._guarded(batches)) as guarded:
            async for batch in guarded:
                # Held whole until the end, so bounded (a stream is passed on, never held).
                size += sum(len(data_line(chunk)) for chunk in batch)
                if size > self._max_chars:
                    self.summary.error = "provider_invalid"  # recorded as the guard closes
                    raise GatewayError(502, "provider_invalid", "the reply exceeds the size limit")
                replies += batch
        for chunk in replies:
            usage = chunk.get("usage", usage)
            for choice in chunk.get("choices", ()):
                delta = choice.get("delta") or {}
                if isinstance(delta.get("content"), str):
                    text.append(delta["content"])
                for call in delta.get("tool_calls") or ():
                    calls.append({key: call[key] for key in ("id", "type", "function")})
                finish = choice.get("finish_reason") or finish
        message: Chunk = {"role": "assistant", "content": "".join(text) or None}
        if calls:
            message["tool_calls"] = calls
        choice = {"index": 0, "message": message, "finish_reason": finish}
        completion = {**self._template, "object": "chat.completion", "choices": [choice]}
        if usage is not None:
            completion["usage"] = usage
        return completion

    async def _guarded(
        self, batches: AsyncIterator[list[Chunk]]
    ) -> AsyncGenerator[list[Chunk], None]:
        try:
            async for batch in batches:
                passing = [chunk for chunk in map(self._take, batch) if chunk is not None]
                if passing:
                    yield passing
            yield await self._finish()
        except Exception as exc:
            self.summary.error = exc.code if isinstance(exc, GatewayError) else "gateway_failed"
            self._write_record()
            raise
        finally:
            if not self._recorded:
                # Left before the end (the client went away): the call is still recorded.
                self.summary.error = self.summary.error or "client_gone"
                self._write_record()

    def _take(self, chunk: Chunk) -> Chunk | None:
        """What of a provider chunk passes now: everything except tool-call pieces, the finish
        reason and usage, which are held for the end."""
        self._template.update(
            {key: chunk[key] for key in ("id", "created", "model") if key in chunk}
        )
        usage = chunk.pop("usage", None)
        if isinstance(usage, dict):
            self.summary.usage = usage
        choices = chunk.get("choices") or []
        passing = False
        for choice in choices:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                # One choice was asked for (n is 1); another could mix calls into this one.
                raise GatewayError(502, "provider_invalid", "a reply choice is not choice 0")
            if choice.get("finish_reason"):
                self.summary.finish_reason = str(choice["finish_reason"])
            choice["finish_reason"] = None
            if "delta" not in choice and isinstance(choice.get("message"), dict):
                # A few OpenAI-compatible servers stream `message` where OpenAI has `delta`.
                choice["delta"] = choice.pop("message")
            delta = choice.get("delta") or {}
            if not isinstance(delta, dict):
                raise GatewayError(502, "provider_invalid", "a reply delta is not an object")
            pieces = delta.pop("tool_calls", None)
            if pieces:
                self._assemble(pieces)
            legacy = delta.pop("function_call", None)
            if legacy is not None:
                # OpenAI's older single-call form, which OpenClaw's client also runs: it is
                # decided like any call and sent on in the current form.
                self._assemble([{"index": LEGACY_INDEX, "function": legacy}])
            content = delta.get("content")
            if isinstance(content, str):
                self._text.update(content.encode("utf-8", "surrogatepass"))
            passing = passing or any(value not in (None, "") for value in delta.values())
            passing = passing or delta.get("role") is not None
        return chunk if passing else None

    def _assemble(self, pieces: object) -> None:
        if not isinstance(pieces, list):
            raise GatewayError(502, "provider_invalid", "delta.tool_calls is not a list")
        for piece in pieces:
            if not isinstance(piece, dict):
                raise GatewayError(502, "provider_invalid", "a tool call delta is not an object")
            index = piece.get("index")
            if not isinstance(index, int):
                # Some servers send each call whole, without an index: a new id is a new call.
                same = self._calls and piece.get("id") in (
                    None,
                    self._calls[max(self._calls)].call_id,
                )
                index = max(self._calls) if same else len(self._calls)
            call = self._calls.setdefault(index, _Assembly())
            if isinstance(piece.get("id"), str) and piece["id"]:
                call.call_id = piece["id"]
            function = piece.get("function") or {}
            if not isinstance(function, dict):
                raise GatewayError(502, "provider_invalid", "a tool call function is not an object")
            if isinstance(function.get("name"), str) and function["name"]:
                call.name = function["name"]
            arguments = function.get("arguments")
            if isinstance(arguments, str) and arguments:
                call.size += len(arguments)
                if call.size > self._max_chars:
                    raise GatewayError(
                        502, "provider_invalid", "a tool call's arguments exceed the size limit"
                    )
                call.arguments.append(arguments)

    async def _finish(self) -> list[Chunk]:
        outcomes: list[tuple[ProposedCall, CallDecision]] = []
        for number, index in enumerate(sorted(self._calls)):
            call = self._calls[index]
            proposed = ProposedCall(
                call.call_id or f"call{self._request_id}{number}",
                call.name,
                "".join(call.arguments),
            )
            outcomes.append((proposed, await self._decide(proposed)))
        self.summary.calls = [
            CallOutcome(p.call_id, p.name, _sha256(p.arguments), d.allow, d.reason)
            for p, d in outcomes
        ]
        self.summary.text_sha256 = self._text.hexdigest()
        try:
            self._write_record(raising=True)
        except Exception:
            reason = "the audit log cannot record it"
            outcomes = [(p, CallDecision(False, reason)) for p, _ in outcomes]
        return self._closing(outcomes)

    async def _decide(self, call: ProposedCall) -> CallDecision:
        if not call.name:
            return CallDecision(False, "the model proposed a tool call without a name")
        if not _json_object(call.arguments):
            # A call that cannot be read (e.g. cut off at max_tokens) cannot be decided.
            return CallDecision(False, "the tool call's arguments are not a JSON object")
        provenance = Provenance(
            call.call_id,
            call.name,
            _sha256(call.arguments),
            self._request_id,
            self._model,
            self._read,
        )
        self._provenance.record(provenance)
        try:
            return await self._decider.decide(call, provenance)
        except Exception:
            log.exception("the tool-call decision failed; call %s is blocked", call.call_id)
            return CallDecision(False, "the tool-call decision failed")

    def _closing(self, outcomes: list[tuple[ProposedCall, CallDecision]]) -> list[Chunk]:
        allowed = [call for call, decision in outcomes if decision.allow]
        blocked = [(call, decision) for call, decision in outcomes if not decision.allow]
        chunks: list[Chunk] = []
        if allowed:
            deltas = [
                {
                    "index": number,
                    "id": call.call_id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
                for number, call in enumerate(allowed)
            ]
            chunks.append(self._chunk({"tool_calls": deltas}))
        if blocked:
            text = "".join(
                block_text(call.name, call.call_id, decision.reason or "refused by policy")
                for call, decision in blocked
            )
            chunks.append(self._chunk({"content": text}))
        finish = self.summary.finish_reason
        if allowed:
            finish = "tool_calls"
        elif finish in (None, "tool_calls", "function_call"):
            finish = "stop"
        chunks.append(self._chunk({}, finish))
        if self.summary.usage is not None:
            chunks.append({**self._template, "choices": [], "usage": self.summary.usage})
        return chunks

    def _chunk(self, delta: Chunk, finish: str | None = None) -> Chunk:
        return {
            **self._template,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    def _write_record(self, *, raising: bool = False) -> None:
        self._recorded = True
        try:
            self._record(self.summary)
        except Exception:
            log.exception("the audit log cannot record model call %s", self._request_id)
            if raising:
                raise
