"""A scripted, OpenAI-compatible model server that speaks exactly what OpenClaw expects.

OpenClaw always calls `POST {baseUrl}/chat/completions` with `stream: true` and
`stream_options.include_usage`, so replies are SSE chunks: text as `delta.content`, tool calls as
streamed `delta.tool_calls` (name first, then the JSON arguments in pieces), a finish reason, a
usage chunk and `data: [DONE]`. Non-streamed requests get the same answer as one JSON body.

A script is a list of steps for the next turn: `ToolCall`s the model asks for, in order, then an
optional final `Reply`. The answer to a request depends only on the request and the script, never
on how many calls came before: the first scripted tool call whose result is not yet in the
request's `role: "tool"` messages is asked for; once every call has its result, the final text
is sent (the `Reply`, or the last tool result echoed back). OpenClaw appends an internal `user`
message after tool results, so "is a tool result present" is the only reliable end of a tool
cycle; matching results by call id keeps earlier turns of the same session from counting.

Every request is recorded (`requests`) so tests can assert on exactly what reached the model.

Run standalone for manual checks: `uv run python tests/e2e/fake_llm.py --port 18799 --reply hi`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

CHUNK_CHARS = 12


@dataclass(frozen=True)
class Reply:
    """The model answers with this text."""

    text: str


@dataclass(frozen=True)
class ToolCall:
    """The model asks for tool `name`; call ids have no underscores (OpenClaw drops them)."""

    name: str
    arguments: Mapping[str, Any]
    call_id: str = field(default_factory=lambda: "call" + secrets.token_hex(8))


@dataclass(frozen=True)
class ModelError:
    """The provider answers with an HTTP error in OpenAI's error format."""

    status: int
    message: str


Step = Reply | ToolCall | ModelError


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake received it."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: Mapping[str, Any]

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages") or [])

    def tool_results(self) -> dict[str, str]:
        """Tool call id (underscores removed) -> the text of its `role: "tool"` message."""
        return {
            str(message.get("tool_call_id", "")).replace("_", ""): message_text(message)
            for message in self.messages
            if message.get("role") == "tool"
        }

    def text(self) -> str:
        """Every message's text joined: handy for 'did X reach the model' assertions."""
        return "\n".join(message_text(message) for message in self.messages)


def message_text(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, Mapping))
    return ""


def choose_answer(steps: list[Step], request: RecordedRequest) -> Step:
    """The next step for this request: pure, so retries and history cannot derail a script."""
    results = request.tool_results()
    last_result = ""
    for step in steps:
        if isinstance(step, ToolCall):
            if step.call_id not in results:
                return step
            last_result = results[step.call_id]
        else:
            return step
    return Reply(last_result)


def _chunk(completion_id: str, model: str, delta: dict[str, Any], finish: str | None) -> str:
    payload = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(payload)}\n\n"


def _pieces(text: str) -> Iterator[str]:
    for start in range(0, len(text), CHUNK_CHARS):
        yield text[start : start + CHUNK_CHARS]


def sse_events(step: Reply | ToolCall, model: str, include_usage: bool) -> Iterator[str]:
    """The SSE body OpenAI streams for `step`, chunk by chunk."""
    completion_id = "chatcmpl-" + secrets.token_hex(8)
    if isinstance(step, Reply):
        yield _chunk(completion_id, model, {"role": "assistant", "content": ""}, None)
        for piece in _pieces(step.text):
            yield _chunk(completion_id, model, {"content": piece}, None)
        finish, completion_tokens = "stop", max(1, len(step.text) // 4)
    else:
        head = {
            "index": 0,
            "id": step.call_id,
            "type": "function",
            "function": {"name": step.name, "arguments": ""},
        }
        yield _chunk(completion_id, model, {"role": "assistant", "tool_calls": [head]}, None)
        for piece in _pieces(json.dumps(step.arguments)):
            delta = {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}
            yield _chunk(completion_id, model, delta, None)
        finish, completion_tokens = "tool_calls", 8
    yield _chunk(completion_id, model, {}, finish)
    if include_usage:
        usage = {"prompt_tokens": 10, "completion_tokens": completion_tokens}
        usage["total_tokens"] = usage["prompt_tokens"] + completion_tokens
        payload = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "choices": [],
            "usage": usage,
        }
        yield f"data: {json.dumps(payload)}\n\n"
    yield "data: [DONE]\n\n"


def completion_body(step: Reply | ToolCall, model: str) -> dict[str, Any]:
    """The non-streamed `chat.completion` object for `step`."""
    if isinstance(step, Reply):
        message: dict[str, Any] = {"role": "assistant", "content": step.text}
        finish = "stop"
    else:
        call = {
            "id": step.call_id,
            "type": "function",
            "function": {"name": step.name, "arguments": json.dumps(step.arguments)},
        }
        message, finish = {"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls"
    return {
        "id": "chatcmpl-" + secrets.token_hex(8),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 8, "total_tokens": 18},
    }


class FakeLLM:
    """The server, running on its own event loop in a daemon thread so sync tests can drive it."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host, self._port = host, port
        self._lock = threading.Lock()
        self._steps: list[Step] = [Reply("ok")]
        self._requests: list[RecordedRequest] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    # --- scripting and inspection (thread-safe) ----------------------------------------------
    def script(self, *steps: Step) -> None:
        """Set what the model does from now on (see the module docstring)."""
        if not steps:
            raise ValueError("script needs at least one step")
        with self._lock:
            self._steps = list(steps)

    def reply(self, text: str) -> None:
        self.script(Reply(text))

    def call_tool(self, name: str, arguments: Mapping[str, Any], answer: str | None = None) -> str:
        """Ask for one tool call, then answer `answer` (default: echo the tool result).

        Returns the call id, the key of `RecordedRequest.tool_results()`.
        """
        call = ToolCall(name, dict(arguments))
        self.script(call, *([Reply(answer)] if answer is not None else []))
        return call.call_id

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL (ends in /v1) to configure as a provider."""
        return f"http://{self._host}:{self._port}/v1"

    # --- HTTP ------------------------------------------------------------------------------
    async def _chat(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return web.json_response({"error": {"message": "body is not JSON"}}, status=400)
        recorded = RecordedRequest(request.method, request.path, dict(request.headers), body)
        with self._lock:
            self._requests.append(recorded)
            step = choose_answer(self._steps, recorded)
        model = str(body.get("model", "fake-model"))
        if isinstance(step, ModelError):
            error = {"message": step.message, "type": "invalid_request_error", "code": None}
            return web.json_response({"error": error}, status=step.status)
        if not body.get("stream"):
            return web.json_response(completion_body(step, model))
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        for event in sse_events(step, model, include_usage):
            await response.write(event.encode())
        await response.write_eof()
        return response

    async def _models(self, request: web.Request) -> web.Response:
        models = [{"id": "fake-model", "object": "model"}]
        return web.json_response({"object": "list", "data": models})

    def _app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        return app

    async def _start(self) -> None:
        self._runner = web.AppRunner(self._app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        server = site._server
        assert server is not None and server.sockets
        self._port = server.sockets[0].getsockname()[1]

    def start(self) -> FakeLLM:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        def run() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._start())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="fake-llm", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake LLM did not start")
        return self

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
        self._loop = None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=18799)
    parser.add_argument("--reply", default="Hello from the fake model.")
    args = parser.parse_args()
    llm = FakeLLM(port=args.port).start()
    llm.reply(args.reply)
    print(f"fake LLM at {llm.base_url}; Ctrl-C to stop", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        llm.stop()


if __name__ == "__main__":
    main()
