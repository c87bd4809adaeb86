"""Test helpers shipped with the proxy (like mitmproxy's `tflow`): a synthetic `Flow` for stage
unit tests, a recording upstream, the real proxy in a subprocess, and a raw-socket client that
sends request targets exactly as written (client libraries would normalize them)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web
from multidict import CIMultiDict

from openclaw_secure_stack.proxy.flow import Body, Flow, Headers, Request
from openclaw_secure_stack.proxy.target import ALLOWED_METHODS
from openclaw_secure_stack.settings import Settings

# Fixed secrets for tests only.
TEST_GATEWAY_TOKEN = "gateway-token-for-tests-0123456789"  # noqa: S105
TEST_CLIENT_TOKENS = {"alice": "alice-token-0123456789abcdef", "ci": "ci-token-0123456789abcdef"}
TEST_AUDIT_KEY = "audit-key-for-tests-0123456789abcdef"


def make_flow(
    path: str = "/v1/chat/completions",
    *,
    method: str = "POST",
    headers: Sequence[tuple[str, str]] = (),
    body: Sequence[bytes] = (),
    length: int | None = None,
    limit: int = 1024 * 1024,
    websocket: bool = False,
) -> Flow:
    """A flow whose body arrives as the given chunks; `length` defaults to their total size."""
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": chunk, "more_body": i < len(body) - 1}
        for i, chunk in enumerate(body)
    ]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    declared = sum(map(len, body)) if length is None else length
    request = Request(
        method=method,
        path=path,
        query="",
        headers=Headers(headers),
        client="127.0.0.1",
        scheme="http",
        body=Body(receive, length=declared, limit=limit, timeout=1.0),
        websocket=websocket,
    )
    return Flow(request, request_id="test-request-id")


@dataclass
class Received:
    """One request as the upstream saw it (path exactly as on the wire)."""

    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes = b""
    complete: bool = False

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


@dataclass
class RecordingUpstream:
    """An upstream on 127.0.0.1 (own thread and loop) that records every request it receives.

    Routes: `/readyz` 200; `/sse?n=N&gap=S` streams N events S seconds apart; `/hold` sends one
    event then waits, recording in `disconnects` when the proxy closes the connection; `/ws`
    echoes WebSocket messages (recorded in `ws_messages`); `/slow?delay=S` answers after S
    seconds; `/reply` answers what its JSON body scripts (see `scripted_reply`);
    `/v1/chat/completions` answers as OpenClaw does (a `chat.completion` with the text
    `chat_reply(body)`) when `chat_reply` is set; anything else echoes a JSON summary.
    `on_request`, if set, is called with each request's head as it arrives (in the upstream's
    thread), e.g. to look at the audit log at the moment OpenClaw would act.
    """

    requests: list[Received] = field(default_factory=list)
    on_request: Callable[[Received], None] | None = None
    chat_reply: Callable[[dict[str, Any]], str] | None = None
    disconnects: list[str] = field(default_factory=list)
    ws_messages: list[str | bytes] = field(default_factory=list)
    ready: bool = True
    port: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _runner: web.BaseRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def protected_requests(self) -> list[Received]:
        """Everything but readiness probes: the requests a client could have smuggled through."""
        return [r for r in self.requests if r.path != "/readyz"]

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        received = Received(
            request.method,
            request.raw_path,
            [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers],
        )
        if request.raw_path != "/readyz":
            self.requests.append(received)
            if self.on_request is not None:
                self.on_request(received)
        received.body = await request.read()
        received.complete = True
        if request.path == "/readyz":
            return web.Response(status=200 if self.ready else 503)
        if request.path == "/ws":
            return await self._echo_ws(request)
        if request.path in ("/sse", "/hold"):
            return await self._stream(request)
        if request.path == "/reply":
            return await self._scripted(request, received.body)
        if request.path == "/v1/chat/completions" and self.chat_reply is not None:
            return web.json_response(chat_completion(self.chat_reply(json.loads(received.body))))
        if request.path == "/slow":
            await asyncio.sleep(float(request.query.get("delay", "1")))
        return web.json_response(
            {"method": request.method, "path": request.raw_path, "body_bytes": len(received.body)}
        )

    async def _stream(self, request: web.BaseRequest) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        count = int(request.query.get("n", "3"))
        gap = float(request.query.get("gap", "0.05"))
        for number in range(count):
            await response.write(f"data: event {number}\n\n".encode())
            await asyncio.sleep(gap)
        if request.path == "/hold":
            await self._wait_for_close(request)
            return response
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def _scripted(self, request: web.BaseRequest, script: bytes) -> web.StreamResponse:
        spec = json.loads(script)
        chunks = [chunk.encode("latin-1") for chunk in spec["chunks"]]
        headers = CIMultiDict[str]((name, value) for name, value in spec.get("headers", []))
        if spec.get("length", False):
            headers["Content-Length"] = str(sum(map(len, chunks)))
        response = web.StreamResponse(status=spec.get("status", 200), headers=headers)
        await response.prepare(request)
        for chunk in chunks:
            await response.write(chunk)
            await asyncio.sleep(spec.get("gap", 0))
        if spec.get("hold", False):
            await self._wait_for_close(request)
            return response
        await response.write_eof()
        return response

    async def _wait_for_close(self, request: web.BaseRequest) -> None:
        for _ in range(600):
            transport = request.transport
            if transport is None or transport.is_closing():
                self.disconnects.append(request.raw_path)
                return
            await asyncio.sleep(0.05)

    async def _echo_ws(self, request: web.BaseRequest) -> web.StreamResponse:
        ws = web.WebSocketResponse(protocols=("chat",))
        await ws.prepare(request)
        async for message in ws:
            if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                self.ws_messages.append(message.data)
            if message.type == WSMsgType.TEXT:
                await ws.send_str(f"echo: {message.data}")
            elif message.type == WSMsgType.BINARY:
                await ws.send_bytes(message.data)
        return ws

    def start(self) -> None:
        self._loop, self._runner, self.port = serve_in_thread(
            lambda: web.ServerRunner(web.Server(self._handle)), "the recording upstream"
        )

    def stop(self) -> None:
        if self._loop is None or self._runner is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
        with contextlib.suppress(Exception):
            future.result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)


def chat_completion(text: str) -> dict[str, Any]:
    """A non-streamed `/v1/chat/completions` answer, as OpenClaw gives one."""
    return {
        "id": "chatcmpl-" + os.urandom(8).hex(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "openclaw",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def serve_in_thread(
    make_runner: Callable[[], web.BaseRunner], name: str
) -> tuple[asyncio.AbstractEventLoop, web.BaseRunner, int]:
    """Serve the runner that `make_runner` builds (on the new loop) at 127.0.0.1 on a free port,
    from an event loop of its own in a daemon thread: the loop, the runner and the port."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    runners: list[web.BaseRunner] = []

    async def listen() -> None:
        runner = make_runner()
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)

    def run() -> None:
        loop.run_until_complete(listen())
        started.set()
        loop.run_forever()

    threading.Thread(target=run, daemon=True).start()
    if not started.wait(10):
        raise RuntimeError(f"{name} did not start")
    [runner] = runners
    return loop, runner, runner.addresses[0][1]


def scripted_reply(
    *chunks: bytes,
    headers: Sequence[tuple[str, str]] = (),
    status: int = 200,
    length: bool = False,
    gap: float = 0.0,
    hold: bool = False,
) -> bytes:
    """The body of a request to `RecordingUpstream`'s `/reply`: it answers `status` with exactly
    these headers (Content-Length too with `length`, else chunked) and the chunks `gap` seconds
    apart; with `hold` it then keeps the reply open until the proxy closes the connection."""
    spec = {
        "chunks": [chunk.decode("latin-1") for chunk in chunks],
        "headers": list(headers),
        "status": status,
        "length": length,
        "gap": gap,
        "hold": hold,
    }
    return json.dumps(spec).encode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# The recording upstream answers on paths of its own (`/sse`, `/reply`, ...): proxies in front of it
# offer every path, so the tests of the other stages are not about routing (tests/**/test_routes*).
OPEN_ROUTE_TABLE = {
    "routes": [
        {
            "id": f"OSS-ROUTE-90{number}",
            "name": "recording-upstream",
            "methods": list(ALLOWED_METHODS),
            "paths": ["/", "/**"],
            "websocket": websocket,
            "rationale": "Test only: every path of the recording upstream.",
            "examples": {"offered": ["GET /sse"], "refused": ["TRACE /"]},
        }
        for number, websocket in ((1, False), (2, True))
    ]
}


def proxy_environment(upstream_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """Environment for a proxy in front of `upstream_url` with the test tokens, offering every
    path (`OPEN_ROUTE_TABLE`, written into `data_dir`) unless PROXY_ROUTES_PATH is given."""
    routes = data_dir / "open-routes.json"
    routes.write_text(json.dumps(OPEN_ROUTE_TABLE))
    ours = {name.upper() for name in Settings.model_fields}
    env = {key: value for key, value in os.environ.items() if key.upper() not in ours}
    env.update(
        UPSTREAM_URL=upstream_url,
        OPENCLAW_GATEWAY_TOKEN=TEST_GATEWAY_TOKEN,
        CLIENT_TOKENS=",".join(f"{name}:{token}" for name, token in TEST_CLIENT_TOKENS.items()),
        AUDIT_KEY=TEST_AUDIT_KEY,
        AUDIT_LOG_PATH=str(data_dir / "audit.jsonl"),
        PROXY_HOST="127.0.0.1",
        PROXY_PORT=str(free_port()),
        PROXY_ROUTES_PATH=str(routes),
    )
    env.update(extra)
    return env


@contextlib.contextmanager
def running_command(
    subcommand: str, env: Mapping[str, str], cwd: Path, *, port: int, name: str
) -> Iterator[None]:
    """`openclaw-secure-stack <subcommand>` in a subprocess, until /health answers on `port`."""
    command = [sys.executable, "-c", "from openclaw_secure_stack.cli.main import app; app()"]
    with running_program([*command, subcommand], env, cwd, port=port, name=name):
        yield


@contextlib.contextmanager
def running_program(
    argv: Sequence[str], env: Mapping[str, str], cwd: Path, *, port: int, name: str
) -> Iterator[None]:
    """`argv` in a subprocess, until /health answers on `port`. Its output goes to
    `cwd/<name>.log` (a pipe nobody reads would fill up and stall it)."""
    log_path = cwd / f"{name}.log"
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and programs
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                output = log_path.read_text(errors="replace")
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{output}")
            health = f"http://127.0.0.1:{port}/health"
            with contextlib.suppress(OSError), urllib.request.urlopen(health, timeout=1):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not answer /health within 20 s")
            time.sleep(0.1)
        yield
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def running_proxy(env: Mapping[str, str], cwd: Path) -> Iterator[int]:
    """`openclaw-secure-stack serve` in a subprocess; yields its port once /health answers."""
    port = int(env["PROXY_PORT"])
    with running_command("serve", env, cwd, port=port, name="proxy"):
        yield port


@dataclass
class RawResponse:
    status: int | None
    head: bytes
    body: bytes
    closed: bool


def raw_exchange(
    port: int, data: bytes, *, timeout: float = 5.0, until_close: bool = False
) -> RawResponse:
    """Send bytes exactly as given; read until the first response is complete (by its
    Content-Length), or with `until_close` until the server closes; at most `timeout` seconds."""
    received = b""
    closed = False
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and (until_close or not _complete(received)):
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split(b" ")
    status = int(status_line[1]) if len(status_line) > 1 and status_line[1].isdigit() else None
    return RawResponse(status, head, body, closed)


def _complete(received: bytes) -> bool:
    head, separator, body = received.partition(b"\r\n\r\n")
    if not separator:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            return len(body) >= int(value.strip())
    return False


def raw_request(
    target: str | bytes,
    *,
    method: str = "GET",
    token: str | None = None,
    headers: Sequence[tuple[str, str]] = (),
    host: str | None = "proxy.test",
    body: bytes = b"",
) -> bytes:
    """An HTTP/1.1 request with the target exactly as given, ending with Connection: close."""
    target_bytes = target if isinstance(target, bytes) else target.encode("latin-1")
    lines = [method.encode() + b" " + target_bytes + b" HTTP/1.1"]
    if host is not None:
        lines.append(f"Host: {host}".encode())
    if token is not None:
        lines.append(f"Authorization: Bearer {token}".encode())
    lines += [f"{name}: {value}".encode("latin-1") for name, value in headers]
    lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def reply_request(script: bytes, token: str, headers: Sequence[tuple[str, str]] = ()) -> bytes:
    """The raw POST to `RecordingUpstream`'s `/reply` that plays `script` (see `scripted_reply`)."""
    length = ("Content-Length", str(len(script)))
    return raw_request(
        "/reply", method="POST", token=token, body=script, headers=[length, *headers]
    )
