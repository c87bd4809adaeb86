"""Fake model providers that speak the exact wire formats, streaming included, for the model
gateway's tests: OpenAI chat completions (SSE `chat.completion.chunk`s with streamed
`delta.tool_calls`, a usage chunk, `data: [DONE]`) and Anthropic Messages (`message_start`,
`content_block_start/delta/stop` with `text_delta` and `input_json_delta`, `message_delta`,
`message_stop`). Each runs on 127.0.0.1 on a free port in its own thread and records every
request. A script step says what every following request gets: a `Turn`, a `Failure` (HTTP error
in the provider's format), `Stall` (never answers, or stops mid-stream) or `BreakOff` (the
connection closes mid-stream).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from openclaw_secure_stack.proxy.testing import serve_in_thread

TEXT_PIECE = 7
ARGUMENT_PIECE = 9


@dataclass(frozen=True)
class Call:
    """A tool call the model proposes. Ids carry underscores, as providers' do."""

    name: str
    arguments: dict[str, Any]
    call_id: str = field(default_factory=lambda: "call_" + secrets.token_hex(6))


@dataclass(frozen=True)
class Turn:
    text: str = ""
    calls: tuple[Call, ...] = ()
    input_tokens: int = 11
    output_tokens: int = 7


@dataclass(frozen=True)
class Failure:
    status: int
    message: str


@dataclass(frozen=True)
class Stall:
    """Never answer (`mid_stream=False`), or send the first events and then nothing."""

    mid_stream: bool = False


@dataclass(frozen=True)
class BreakOff:
    """Send the first events, then close the connection."""


Step = Turn | Failure | Stall | BreakOff


@dataclass(frozen=True)
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    raw: bytes = b""


def _pieces(text: str, size: int) -> Iterator[str]:
    for start in range(0, len(text), size):
        yield text[start : start + size]


class FakeProvider:
    path = ""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.step: Step = Turn("ok")
        # Answer for a request that carries a tool result (the end of a tool cycle), if set.
        self.after_tools: Turn | None = None
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.BaseRunner | None = None
        self._released: asyncio.Event | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def events(self, turn: Turn, model: str) -> list[bytes]:
        raise NotImplementedError

    def error_body(self, failure: Failure) -> dict[str, Any]:
        raise NotImplementedError

    def has_tool_result(self, body: dict[str, Any]) -> bool:
        raise NotImplementedError

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        body = json.loads(raw)
        self.requests.append(Recorded(request.path, dict(request.headers), body, raw))
        step = self.step
        if self.after_tools is not None and self.has_tool_result(body):
            step = self.after_tools
        if isinstance(step, Failure):
            return web.json_response(self.error_body(step), status=step.status)
        if isinstance(step, Stall) and not step.mid_stream:
            await self._hold()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        turn = step if isinstance(step, Turn) else Turn("partial answer that never ends")
        events = self.events(turn, str(body.get("model")))
        if not isinstance(step, Turn):
            for event in events[:3]:
                await response.write(event)
            if isinstance(step, Stall):
                await self._hold()
            assert request.transport is not None
            request.transport.close()
            return response
        for event in events:
            await response.write(event)
        await response.write_eof()
        return response

    async def _hold(self) -> None:
        """Wait until the fake stops (a stalled provider)."""
        assert self._released is not None
        await self._released.wait()

    def start(self) -> FakeProvider:
        def runner() -> web.BaseRunner:
            self._released = asyncio.Event()
            app = web.Application(client_max_size=64 << 20)
            app.router.add_post(self.path, self._handle)
            return web.AppRunner(app, access_log=None)

        self._loop, self._runner, self.port = serve_in_thread(runner, "fake provider")
        return self

    def stop(self) -> None:
        if self._loop is None or self._runner is None or self._released is None:
            return
        self._loop.call_soon_threadsafe(self._released.set)
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)


class FakeOpenAI(FakeProvider):
    path = "/v1/chat/completions"

    def has_tool_result(self, body: dict[str, Any]) -> bool:
        return any(message.get("role") == "tool" for message in body.get("messages", []))

    def error_body(self, failure: Failure) -> dict[str, Any]:
        return {
            "error": {"message": failure.message, "type": "invalid_request_error", "code": None}
        }

    def events(self, turn: Turn, model: str) -> list[bytes]:
        ident = "chatcmpl-" + secrets.token_hex(6)

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            choice = {"index": 0, "delta": delta, "finish_reason": finish}
            payload = {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": 1700000000,
                "model": model,
                "choices": [choice],
            }
            return f"data: {json.dumps(payload)}\n\n".encode()

        out = [chunk({"role": "assistant", "content": ""})]
        out += [chunk({"content": piece}) for piece in _pieces(turn.text, TEXT_PIECE)]
        for index, call in enumerate(turn.calls):
            head = {
                "index": index,
                "id": call.call_id,
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
            out.append(chunk({"tool_calls": [head]}))
            for piece in _pieces(json.dumps(call.arguments), ARGUMENT_PIECE):
                out.append(
                    chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
                )
        out.append(chunk({}, "tool_calls" if turn.calls else "stop"))
        usage = {
            "prompt_tokens": turn.input_tokens,
            "completion_tokens": turn.output_tokens,
            "total_tokens": turn.input_tokens + turn.output_tokens,
        }
        final = {"id": ident, "object": "chat.completion.chunk", "created": 1700000000}
        final |= {"model": model, "choices": [], "usage": usage}
        out.append(f"data: {json.dumps(final)}\n\n".encode())
        out.append(b"data: [DONE]\n\n")
        return out


class FakeAnthropic(FakeProvider):
    path = "/v1/messages"

    def has_tool_result(self, body: dict[str, Any]) -> bool:
        return any(
            isinstance(block, dict) and block.get("type") == "tool_result"
            for message in body.get("messages", [])
            if isinstance(message.get("content"), list)
            for block in message["content"]
        )

    def error_body(self, failure: Failure) -> dict[str, Any]:
        return {"type": "error", "error": {"type": "api_error", "message": failure.message}}

    def events(self, turn: Turn, model: str) -> list[bytes]:
        def event(kind: str, data: dict[str, Any]) -> bytes:
            return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n".encode()

        message = {
            "id": "msg_" + secrets.token_hex(6),
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": model,
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": turn.input_tokens, "output_tokens": 1},
        }
        out = [event("message_start", {"message": message}), event("ping", {})]
        index = 0
        if turn.text:
            out.append(
                event(
                    "content_block_start",
                    {"index": 0, "content_block": {"type": "text", "text": ""}},
                )
            )
            for piece in _pieces(turn.text, TEXT_PIECE):
                delta = {"type": "text_delta", "text": piece}
                out.append(event("content_block_delta", {"index": 0, "delta": delta}))
            out.append(event("content_block_stop", {"index": 0}))
            index = 1
        for offset, call in enumerate(turn.calls):
            block = {"type": "tool_use", "id": call.call_id, "name": call.name, "input": {}}
            position = index + offset
            out.append(event("content_block_start", {"index": position, "content_block": block}))
            pieces = ["", *_pieces(json.dumps(call.arguments), ARGUMENT_PIECE)]
            for piece in pieces:
                delta = {"type": "input_json_delta", "partial_json": piece}
                out.append(event("content_block_delta", {"index": position, "delta": delta}))
            out.append(event("content_block_stop", {"index": position}))
        reason = "tool_use" if turn.calls else "end_turn"
        out.append(
            event(
                "message_delta",
                {
                    "delta": {"stop_reason": reason, "stop_sequence": None},
                    "usage": {"output_tokens": turn.output_tokens},
                },
            )
        )
        out.append(event("message_stop", {}))
        return out
