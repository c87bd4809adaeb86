"""One request's journey through the proxy (`Flow`) and the contract every stage follows (`Stage`).

A stage reads and changes the flow. To answer or deny, it sets `flow.response` (see `Flow.deny`);
to act on the reply as it streams, it wraps `flow.response.body` in its own async generator. The
pipeline (`pipeline.py`) decides which stages run; the app (`app.py`) talks ASGI.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    MutableMapping,
)
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class Reject(Exception):
    """Ends the flow with a JSON error; raise it where setting `flow.response` is not possible."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class ClientGone(Exception):
    """The client closed the connection; nothing more can be sent to it."""


class Headers:
    """Ordered, multi-valued HTTP headers; names are kept lower-case, as ASGI delivers them."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items = [(name.lower(), value) for name, value in items]

    @classmethod
    def from_raw(cls, raw: Iterable[tuple[bytes, bytes]]) -> Headers:
        return cls((name.decode("latin-1"), value.decode("latin-1")) for name, value in raw)

    def get(self, name: str) -> str | None:
        """The first value of `name`, or None."""
        name = name.lower()
        return next((value for key, value in self._items if key == name), None)

    def get_all(self, name: str) -> list[str]:
        name = name.lower()
        return [value for key, value in self._items if key == name]

    def set(self, name: str, value: str) -> None:
        """Replace every value of `name` with this one."""
        self.remove(name)
        self._items.append((name.lower(), value))

    def add(self, name: str, value: str) -> None:
        self._items.append((name.lower(), value))

    def remove(self, *names: str) -> None:
        drop = {name.lower() for name in names}
        self._items = [(key, value) for key, value in self._items if key not in drop]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(key == name.lower() for key, _ in self._items)

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def raw(self) -> list[tuple[bytes, bytes]]:
        return [(key.encode("latin-1"), value.encode("latin-1")) for key, value in self._items]


class Body:
    """The request body as it arrives: stream it once (`async for`), or `read()` it whole.

    Both enforce the size limit (413) and a client deadline (408): `timeout` seconds for the
    next chunk, and in total `timeout` seconds per 64 KiB received so far (plus one), so a client
    trickling a byte at a time cannot hold the request open. `replace()` swaps in new content (a
    sanitizer's rewrite); the forwarder then sends that with a fresh Content-Length.
    """

    RATE_BLOCK = 64 * 1024

    def __init__(self, receive: Receive, *, length: int | None, limit: int, timeout: float) -> None:
        self.length = length
        self._receive = receive
        self._limit = limit
        self._timeout = timeout
        self._content: bytes | None = b"" if length == 0 else None
        self._streamed = False
        self.complete = asyncio.Event()
        if length == 0:
            self.complete.set()

    async def _chunks(self) -> AsyncIterator[bytes]:
        if self._streamed:
            raise RuntimeError("the request body was already streamed")
        self._streamed = True
        received = 0
        started = time.monotonic()
        while not self.complete.is_set():
            allowed = self._timeout * (1 + received / self.RATE_BLOCK)
            wait = min(self._timeout, started + allowed - time.monotonic())
            # Not asyncio.timeout: with granian 2.8 a cancelled pending receive() often kept
            # the connection open after our 408, so the read is left to finish on its own.
            receiving = asyncio.ensure_future(self._receive())
            if not await _done_within(receiving, wait):
                receiving.add_done_callback(_discard)
                raise Reject(408, "body_timeout", "the request body arrived too slowly")
            message = receiving.result()
            if message["type"] == "http.disconnect":
                raise ClientGone
            chunk: bytes = message.get("body", b"")
            received += len(chunk)
            if received > self._limit:
                raise Reject(413, "body_too_large", f"request body exceeds {self._limit} bytes")
            # A declared length ends the body as soon as it has arrived: granian sends an
            # empty last message after it, which would cost another wait for nothing.
            if not message.get("more_body", False) or received == self.length:
                self.complete.set()
            if chunk:
                yield chunk

    @classmethod
    def whole(cls, content: bytes) -> Body:
        """A body that is complete already: a request the proxy makes itself (a relayed phone
        message) rather than one it receives."""
        body = cls(_nothing_to_receive, length=0, limit=len(content), timeout=0)
        body.replace(content)
        return body

    def __aiter__(self) -> AsyncIterator[bytes]:
        if self._content is not None:
            return _once(self._content)
        return self._chunks()

    async def read(self) -> bytes:
        """The whole body (at most the configured limit); later reads return the same bytes.
        Its `length` is then known, chunked or not."""
        if self._content is None:
            self._content = b"".join([chunk async for chunk in self._chunks()])
            self.length = len(self._content)
        return self._content

    @property
    def content(self) -> bytes | None:
        """The whole body if it was read (or replaced), else None (it streams on)."""
        return self._content

    def replace(self, content: bytes) -> None:
        """Forward `content` instead of what the client sent (call `read()` first)."""
        if self._streamed and not self.complete.is_set():
            raise RuntimeError("cannot replace a body that is being streamed")
        self._content = content
        self.length = len(content)


async def _done_within(future: asyncio.Future[Any], seconds: float) -> bool:
    """Wait up to `seconds` for `future` without cancelling it: `asyncio.wait` for one future,
    without its sets and checks (this runs for every chunk of every request body)."""
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] = loop.create_future()

    def wake(_: object = None) -> None:
        if not waiter.done():
            waiter.set_result(None)

    timer = loop.call_later(seconds, wake)
    future.add_done_callback(wake)
    try:
        await waiter
    finally:
        timer.cancel()
        future.remove_done_callback(wake)
    return future.done()


def _discard(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


async def _nothing_to_receive() -> dict[str, Any]:
    raise RuntimeError("a whole body is never received")


async def _once(content: bytes) -> AsyncIterator[bytes]:
    if content:
        yield content


@dataclass
class Request:
    """What the client asked for. `path` is the exact, validated path that is authorized and
    forwarded (percent-encoded as received; see `target.py`); `query` is the raw query string."""

    method: str
    path: str
    query: str
    headers: Headers
    client: str | None
    scheme: str
    body: Body
    websocket: bool = False


@dataclass
class Response:
    """The answer. `origin` says who produced it; `body` is consumed exactly once, as it streams.

    Until the first body chunk is produced, `status` and `headers` may still change: the app sends
    the response head only when the body yields its first chunk (or ends empty).
    """

    status: int
    headers: Headers
    body: AsyncIterable[bytes]
    origin: Literal["proxy", "upstream"] = "proxy"

    @classmethod
    def error(cls, status: int, code: str, message: str) -> Response:
        """The JSON error every denial uses: {"error": {"code": ..., "message": ...}}."""
        payload = {"error": {"code": code, "message": message}}
        return cls.json(status, payload)

    @classmethod
    def json(cls, status: int, payload: Mapping[str, object]) -> Response:
        content = json.dumps(payload, separators=(",", ":")).encode()
        headers = Headers(
            [("content-type", "application/json"), ("content-length", str(len(content)))]
        )
        return cls(status, headers, _once(content))


@dataclass(eq=False)
class Flow:
    """Everything known about one request, shared by the stages in order.

    `actor` is the client token's name once auth has run. `findings` are audit-safe summaries
    (rule id, severity, never the raw text) from detectors; `notes` are extra audit details.
    `upstream_headers` are headers the proxy itself decided to send upstream (client headers
    pass only by the forwarder's allowlist).
    `cleanups` run when the exchange ends, however it ends (the forwarder releases its upstream
    connection there). For a WebSocket the forwarder sets `tunnel` instead of `response`, and
    `frames` judges every client frame before the tunnel relays it.
    """

    request: Request
    request_id: str
    actor: str | None = None
    response: Response | None = None
    findings: list[Mapping[str, object]] = field(default_factory=list)
    notes: dict[str, object] = field(default_factory=dict)
    upstream_headers: Headers = field(default_factory=Headers)
    started: float = field(default_factory=time.monotonic)
    cleanups: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    tunnel: Tunnel | None = None
    frames: FrameFilter | None = None

    def deny(self, status: int, code: str, message: str) -> Response:
        """Answer with a JSON error; later request stages and the forwarder are skipped."""
        self.response = Response.error(status, code, message)
        self.notes["denied"] = code
        return self.response


@dataclass(frozen=True)
class FrameAction:
    """What to do with one client WebSocket frame: relay `forward` to the upstream, answer the
    client with `reply`, and/or close both sides with `close` (a WebSocket close code)."""

    forward: str | None = None
    reply: str | None = None
    close: int | None = None
    reason: str = ""


class FrameFilter(Protocol):
    async def check(self, text: str | None, data: bytes | None) -> FrameAction: ...


class Tunnel(Protocol):
    """An open WebSocket to the upstream; the app accepts the client and relays with `run`."""

    subprotocol: str | None

    async def run(self, receive: Receive, send: Send) -> None: ...


class Stage(Protocol):
    """One small step of the pipeline.

    `name` appears in audit records and errors. Stages run in list order until one sets
    `flow.response`; after that only stages with `sees_answered = True` run (response scanning,
    audit). A stage that raises denies the request (fail closed); it is never skipped.
    """

    name: ClassVar[str]
    sees_answered: ClassVar[bool]

    async def __call__(self, flow: Flow) -> None: ...
