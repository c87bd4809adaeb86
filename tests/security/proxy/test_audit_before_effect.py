"""Audit before effect, through the real server: nothing reaches the upstream before its intent
record is in the log, an unwritable log forwards nothing, a body that breaks off is audited and
never forwarded, a lost outcome stops the proxy, and restarts are recorded."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import aiohttp
import pytest

from openclaw_secure_stack.audit.log import chain_paths
from openclaw_secure_stack.audit.testing import run_cli
from openclaw_secure_stack.proxy.testing import (
    TEST_AUDIT_KEY,
    TEST_CLIENT_TOKENS,
    Received,
    RecordingUpstream,
    proxy_environment,
    raw_exchange,
    raw_request,
    running_proxy,
)

ALICE = TEST_CLIENT_TOKENS["alice"]
CHAT = "/v1/chat/completions"
CHAT_BODY = b'{"model":"openclaw","messages":[{"role":"user","content":"hello there"}]}'


@contextlib.contextmanager
def proxy_with_log(upstream: RecordingUpstream, directory: Path) -> Iterator[tuple[int, Path]]:
    """A proxy whose log these tests may damage, with 1 s client deadlines."""
    env = proxy_environment(upstream.url, directory, CLIENT_TIMEOUT="1", MAX_BODY_BYTES="65536")
    with running_proxy(env, directory) as port:
        yield port, directory / "audit.jsonl"


@pytest.fixture(scope="module")
def shared(
    upstream: RecordingUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[int, Path]]:
    """One proxy for the tests that leave its log working when they end."""
    with proxy_with_log(upstream, tmp_path_factory.mktemp("audit-proxy")) as stack:
        yield stack


@pytest.fixture
def stack(shared: tuple[int, Path], upstream: RecordingUpstream) -> Iterator[tuple[int, Path]]:
    yield shared
    upstream.on_request = None


@pytest.fixture
def fresh(upstream: RecordingUpstream, tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A proxy of its own, for a test that stops it for good."""
    try:
        with proxy_with_log(upstream, tmp_path) as stack:
            yield stack
    finally:
        upstream.on_request = None


def records(log: Path) -> list[dict]:
    return [
        json.loads(line)
        for file in chain_paths(log)
        for line in file.read_bytes().splitlines(keepends=True)
        if line.endswith(b"\n")
    ]


def of_request(log: Path, request_id: str) -> list[tuple[str, str]]:
    return [(r["event"], r["outcome"]) for r in records(log) if r["request_id"] == request_id]


def wait_for(condition: Callable[[], object], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def request_id_of(head: bytes) -> str:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"x-request-id":
            return value.strip().decode()
    raise AssertionError("no x-request-id in the reply")


def chunked(*parts: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts) + b"0\r\n\r\n"


def verify(log: Path) -> dict:
    result = run_cli(
        ["audit", "verify", "--format", "json"], log_path=log, key=TEST_AUDIT_KEY.encode()
    )
    return json.loads(result.stdout)


@contextlib.contextmanager
def unwritable(log: Path) -> Iterator[Path]:
    """The log path turned into a directory (root ignores file modes); yields the old log."""
    moved = log.with_name("moved-away.jsonl")
    log.rename(moved)
    log.mkdir()
    try:
        yield moved
    finally:
        log.rmdir()
        moved.rename(log)


SENT = {
    "json": (
        CHAT,
        [("Content-Type", "application/json"), ("Content-Length", str(len(CHAT_BODY)))],
        CHAT_BODY,
    ),
    "chunked": (
        CHAT,
        [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")],
        chunked(CHAT_BODY[:20], CHAT_BODY[20:50], CHAT_BODY[50:]),
    ),
    "empty-post": ("/v1/sessions/reset", [("Content-Length", "0")], b""),
}


@pytest.mark.parametrize("shape", SENT)
def test_intent_is_in_the_log_when_the_upstream_sees_the_request(
    stack: tuple[int, Path], upstream: RecordingUpstream, shape: str
) -> None:
    """At the moment the upstream receives a request, its proxy.intent record (size and digest
    of exactly the body forwarded, never its text) is already in the log; the outcome follows."""
    port, log = stack
    seen_at_arrival: list[list[tuple[str, str]]] = []
    upstream.on_request = lambda got: seen_at_arrival.append(
        of_request(log, got.header("x-request-id") or "")
    )
    path, headers, body = SENT[shape]
    reply = raw_exchange(
        port, raw_request(path, method="POST", token=ALICE, headers=headers, body=body)
    )
    assert reply.status == 200
    request_id = request_id_of(reply.head)
    [got] = upstream.requests
    assert seen_at_arrival == [[("proxy.intent", "pending")]]
    assert of_request(log, request_id) == [("proxy.intent", "pending"), ("proxy.request", "allow")]
    [intent] = [r for r in records(log) if r["request_id"] == request_id][:1]
    assert intent["actor"] == "alice"
    assert intent["details"] == {
        "method": "POST",
        "path": path,
        "client": "127.0.0.1",
        "body_bytes": len(got.body),
        "body_sha256": hashlib.sha256(got.body).hexdigest(),
    }
    assert got.body == (CHAT_BODY if body else b"")
    assert b"hello there" not in log.read_bytes()


def test_websocket_intent_is_in_the_log_before_the_upgrade_reaches_the_upstream(
    stack: tuple[int, Path], upstream: RecordingUpstream
) -> None:
    """A WebSocket upgrade gets its durable intent record (websocket: true) before it is relayed."""
    port, log = stack
    seen: list[list[tuple[str, str]]] = []
    upstream.on_request = lambda got: seen.append(of_request(log, got.header("x-request-id") or ""))

    client = {"id": "cli", "mode": "cli"}
    connect = {"type": "req", "id": "1", "method": "connect", "params": {"client": client}}

    async def talk() -> str:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(
                f"http://127.0.0.1:{port}/ws", headers={"Authorization": f"Bearer {ALICE}"}
            ) as ws,
        ):
            await ws.send_json(connect)
            return str((await ws.receive(timeout=5)).data)

    assert json.loads(asyncio.run(talk()).removeprefix("echo: "))["method"] == "connect"
    assert seen == [[("proxy.intent", "pending")]]
    [got] = upstream.protected_requests()
    intents = [r for r in records(log) if r["request_id"] == got.header("x-request-id")]
    assert [(r["event"], r["details"].get("websocket")) for r in intents][:1] == [
        ("proxy.intent", True)
    ]


UNWRITABLE = {
    "get": raw_request("/v1/models", token=ALICE),
    "post-json": raw_request(
        CHAT,
        method="POST",
        token=ALICE,
        headers=[("Content-Length", str(len(CHAT_BODY)))],
        body=CHAT_BODY,
    ),
    "post-chunked": raw_request(
        CHAT,
        method="POST",
        token=ALICE,
        headers=[("Transfer-Encoding", "chunked")],
        body=chunked(CHAT_BODY[:10], CHAT_BODY[10:]),
    ),
    "delete": raw_request("/v1/sessions/x", method="DELETE", token=ALICE),
}


@pytest.mark.parametrize("name", UNWRITABLE)
def test_unwritable_log_forwards_nothing(
    stack: tuple[int, Path], upstream: RecordingUpstream, name: str
) -> None:
    """With the log unwritable: 503 audit_unavailable and the upstream receives nothing; once
    the log works again, requests flow and are audited (no record was ever skipped)."""
    port, log = stack
    with unwritable(log):
        reply = raw_exchange(port, UNWRITABLE[name])
        assert reply.status == 503
        assert json.loads(reply.body)["error"]["code"] == "audit_unavailable"
        assert upstream.protected_requests() == []
    reply = raw_exchange(port, UNWRITABLE[name])
    assert reply.status == 200
    assert len(upstream.protected_requests()) == 1
    assert [e for e, _ in of_request(log, request_id_of(reply.head))] == [
        "proxy.intent",
        "proxy.request",
    ]
    assert verify(log)["intact"] is True


def test_unwritable_websocket_upgrade_forwards_nothing(
    stack: tuple[int, Path], upstream: RecordingUpstream
) -> None:
    """A WebSocket upgrade with the log unwritable is refused (503) and never opened upstream."""
    port, log = stack

    async def connect() -> int:
        async with aiohttp.ClientSession() as session:
            try:
                async with session.ws_connect(
                    f"http://127.0.0.1:{port}/ws", headers={"Authorization": f"Bearer {ALICE}"}
                ):
                    return 101
            except aiohttp.WSServerHandshakeError as exc:
                return exc.status

    with unwritable(log):
        assert asyncio.run(connect()) == 503
    assert upstream.protected_requests() == []


@pytest.mark.parametrize("route", ["/slow?delay=0.2", "/sse?n=2&gap=0.01"])
def test_lost_outcome_stops_the_proxy(
    fresh: tuple[int, Path], upstream: RecordingUpstream, route: str
) -> None:
    """The log fails while the upstream handles a request: that reply is blocked (503), and the
    proxy refuses everything after (503, not ready) rather than run unaudited, even once the log
    works again. The intent of the request that got through is in the log."""
    port, log = fresh
    moved = log.with_name("moved-away.jsonl")

    def break_log(got: Received) -> None:
        log.rename(moved)
        log.mkdir()

    upstream.on_request = break_log
    reply = raw_exchange(port, raw_request(route, token=ALICE))
    assert (reply.status, json.loads(reply.body)["error"]["code"]) == (503, "audit_unavailable")
    upstream.on_request = None
    log.rmdir()
    moved.rename(log)
    request_id = request_id_of(reply.head)
    assert of_request(log, request_id) == [("proxy.intent", "pending")]

    for later in (
        raw_request("/v1/models", token=ALICE),
        UNWRITABLE["post-json"],
    ):
        reply = raw_exchange(port, later)
        assert (reply.status, json.loads(reply.body)["error"]["code"]) == (503, "audit_unavailable")
    assert len(upstream.protected_requests()) == 1
    ready = raw_exchange(port, raw_request("/ready"))
    assert ready.status == 503
    assert "could not be recorded" in json.loads(ready.body)["error"]["message"]
    refused = [
        r
        for r in records(log)
        if r["event"] == "proxy.request" and r["details"]["path"] in ("/v1/models", CHAT)
    ]
    assert [r["details"]["denied"] for r in refused] == ["audit_unavailable"] * 2


@pytest.mark.parametrize(
    ("name", "headers", "body", "leave", "code"),
    [
        ("gone-mid-length", [("Content-Length", "1000")], b"a" * 100, True, "incomplete_body"),
        (
            "gone-mid-chunked",
            [("Transfer-Encoding", "chunked")],
            b"5\r\nhello\r\n",
            True,
            "incomplete_body",
        ),
        (
            "gone-in-chunk",
            [("Transfer-Encoding", "chunked")],
            b"10\r\nhel",
            True,
            "incomplete_body",
        ),
        (
            "bad-chunk-size",
            [("Transfer-Encoding", "chunked")],
            b"zz\r\nhello\r\n0\r\n\r\n",
            False,
            "incomplete_body",
        ),
        (
            "bad-chunk-end",
            [("Transfer-Encoding", "chunked")],
            b"5\r\nhelloXX0\r\n\r\n",
            False,
            "incomplete_body",
        ),
        ("stalled", [("Content-Length", "1000")], b"a" * 100, False, "body_timeout"),
        (
            "oversized-chunked",
            [("Transfer-Encoding", "chunked")],
            chunked(b"x" * 40000, b"x" * 40000),
            False,
            "body_too_large",
        ),
    ],
)
def test_body_that_breaks_off_is_audited_and_never_forwarded(
    stack: tuple[int, Path],
    upstream: RecordingUpstream,
    name: str,
    headers: list[tuple[str, str]],
    body: bytes,
    leave: bool,
    code: str,
) -> None:
    """A client that leaves mid-body, sends a malformed chunk, stalls or goes over the limit:
    no byte (not even the head and gateway token) reaches the upstream, there is no intent,
    the denial is in the log, and a client still there gets its 4xx JSON."""
    port, log = stack
    path = f"/v1/case-{name}"
    data = raw_request(path, method="POST", token=ALICE, headers=headers) + body
    if leave:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(data)
    else:
        reply = raw_exchange(port, data, timeout=5)
        assert reply.status is not None and 400 <= reply.status < 500
        assert json.loads(reply.body)["error"]["code"] == code
    wait_for(lambda: any(r["details"].get("path") == path for r in records(log)))
    mine = [r for r in records(log) if r["details"].get("path") == path]
    assert [(r["event"], r["outcome"], r["details"]["denied"]) for r in mine] == [
        ("proxy.request", "deny", code)
    ]
    assert upstream.protected_requests() == []


AFTER_LOSS = {
    "chat.send": {"sessionKey": "oss:alice:main", "message": "hello", "idempotencyKey": "k"},
    "chat.history": {"sessionKey": "oss:alice:main"},
    "health": {},
}


@pytest.mark.parametrize("method", AFTER_LOSS)
def test_lost_outcome_stops_open_websockets_too(
    fresh: tuple[int, Path], upstream: RecordingUpstream, method: str
) -> None:
    """Once an outcome is lost, a WebSocket opened before relays no further frame: it is closed
    (1011) and the frame never reaches the upstream, even with the log working again."""
    port, log = fresh
    moved = log.with_name("moved-away.jsonl")
    client = {"id": "cli", "mode": "cli"}
    connect = {"type": "req", "id": "1", "method": "connect", "params": {"client": client}}

    def break_log(got: Received) -> None:
        log.rename(moved)
        log.mkdir()

    async def talk() -> int | None:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(
                f"http://127.0.0.1:{port}/ws", headers={"Authorization": f"Bearer {ALICE}"}
            ) as ws,
        ):
            await ws.send_json(connect)
            assert str((await ws.receive(timeout=5)).data).startswith("echo: ")
            upstream.on_request = break_log
            request = raw_request("/slow?delay=0.1", token=ALICE)
            reply = await asyncio.to_thread(raw_exchange, port, request)
            assert json.loads(reply.body)["error"]["code"] == "audit_unavailable"
            upstream.on_request = None
            log.rmdir()
            moved.rename(log)
            frame = {"type": "req", "id": "2", "method": method, "params": AFTER_LOSS[method]}
            await ws.send_json(frame)
            assert (await ws.receive(timeout=5)).type == aiohttp.WSMsgType.CLOSE
            return ws.close_code

    upstream.ws_messages.clear()
    assert asyncio.run(talk()) == 1011
    assert [json.loads(m)["method"] for m in upstream.ws_messages] == ["connect"]
