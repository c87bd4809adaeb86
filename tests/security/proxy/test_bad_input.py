"""Bad input over real sockets: credentials, oversized heads and bodies, and slow clients. Each
gets a clear 4xx (or, for a stalled request head, a closed connection) in bounded time, and the
proxy keeps serving everyone else meanwhile."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from openclaw_secure_stack.proxy.testing import (
    TEST_CLIENT_TOKENS,
    RecordingUpstream,
    raw_exchange,
    raw_request,
)

ALICE = TEST_CLIENT_TOKENS["alice"]
CHAT = "/v1/chat/completions"
LIMIT = 65536  # MAX_BODY_BYTES of the proxy under test
DEADLINE = 1.0  # CLIENT_TIMEOUT of the proxy under test


def answer(port: int, request: bytes, timeout: float = 5) -> tuple[int | None, str | None]:
    reply = raw_exchange(port, request, timeout=timeout)
    try:
        code = json.loads(reply.body)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        code = None
    return reply.status, code


def normal_request_succeeds(port: int) -> bool:
    return answer(port, raw_request("/v1/models", token=ALICE))[0] == 200


AUTHORIZATION = {
    "wrong token": ([("Authorization", "Bearer wrong-token-0123456789")], 403, "invalid_token"),
    "empty value": ([("Authorization", "")], 401, "missing_token"),
    "scheme only": ([("Authorization", "Bearer")], 401, "missing_token"),
    "basic scheme": ([("Authorization", f"Basic {ALICE}")], 400, "malformed_authorization"),
    "token with space": ([("Authorization", f"Bearer {ALICE} x")], 400, "malformed_authorization"),
    "duplicated, both valid": (
        [("Authorization", f"Bearer {ALICE}"), ("Authorization", f"Bearer {ALICE}")],
        400,
        "duplicate_authorization",
    ),
    "duplicated, wrong then valid": (
        [("Authorization", "Bearer wrong-token-0123456789"), ("Authorization", f"Bearer {ALICE}")],
        400,
        "duplicate_authorization",
    ),
    "oversized (8 KiB)": (
        [("Authorization", "Bearer " + "a" * 8192)],
        400,
        "oversized_authorization",
    ),
    "valid token with prefix padding": (
        [("Authorization", f"Bearer x{ALICE}")],
        403,
        "invalid_token",
    ),
}


@pytest.mark.parametrize(
    ("headers", "status", "code"), AUTHORIZATION.values(), ids=AUTHORIZATION.keys()
)
def test_bad_authorization(
    proxy_port: int,
    upstream: RecordingUpstream,
    headers: list[tuple[str, str]],
    status: int,
    code: str,
) -> None:
    """Each bad Authorization gets its own status and JSON code; nothing is forwarded."""
    assert answer(proxy_port, raw_request(CHAT, headers=headers)) == (status, code)
    assert upstream.protected_requests() == []


def test_huge_header_is_431(proxy_port: int, upstream: RecordingUpstream) -> None:
    """A 40 KiB header, even with a valid token, is refused with 431 before anything else."""
    request = raw_request(CHAT, token=ALICE, headers=[("X-Padding", "a" * 40_000)])
    assert answer(proxy_port, request) == (431, "headers_too_large")
    assert upstream.protected_requests() == []


def test_many_small_headers_are_431(proxy_port: int, upstream: RecordingUpstream) -> None:
    """Thousands of small headers add up to the same cap."""
    headers = [(f"X-H{i}", "v" * 10) for i in range(3000)]
    assert answer(proxy_port, raw_request(CHAT, token=ALICE, headers=headers))[0] == 431
    assert upstream.protected_requests() == []


def test_megabyte_header_is_refused_by_the_server(
    proxy_port: int, upstream: RecordingUpstream
) -> None:
    """A 1 MiB head never reaches the app: granian refuses it (431) with bounded buffering."""
    request = raw_request(CHAT, token=ALICE, headers=[("X-Padding", "a" * 1_048_576)])
    reply = raw_exchange(proxy_port, request, timeout=5)
    assert reply.status == 431
    assert upstream.protected_requests() == []


def test_body_over_limit_with_content_length_is_413_unread(
    proxy_port: int, upstream: RecordingUpstream
) -> None:
    """A declared length over the limit is refused from the header alone; nothing is forwarded."""
    request = raw_request(
        "/v1/upload", method="POST", token=ALICE, headers=[("Content-Length", str(LIMIT + 1))]
    )
    assert answer(proxy_port, request) == (413, "body_too_large")
    assert upstream.protected_requests() == []


def test_chunked_body_over_limit_is_413(proxy_port: int, upstream: RecordingUpstream) -> None:
    """Without Content-Length the limit is enforced while streaming: 413, and OpenClaw never gets
    a complete request."""
    chunk = b"4000\r\n" + b"x" * 0x4000 + b"\r\n"
    body = chunk * 5 + b"0\r\n\r\n"  # 80 KiB > 64 KiB
    request = raw_request(
        "/v1/upload",
        method="POST",
        token=ALICE,
        headers=[("Transfer-Encoding", "chunked")],
        body=body,
    )
    assert answer(proxy_port, request) == (413, "body_too_large")
    assert not any(r.complete for r in upstream.protected_requests())


def test_body_at_the_limit_passes(proxy_port: int, upstream: RecordingUpstream) -> None:
    """Exactly MAX_BODY_BYTES is accepted and forwarded whole."""
    request = raw_request(
        "/v1/upload",
        method="POST",
        token=ALICE,
        headers=[("Content-Length", str(LIMIT))],
        body=b"x" * LIMIT,
    )
    assert answer(proxy_port, request)[0] == 200
    assert [len(r.body) for r in upstream.protected_requests() if r.complete] == [LIMIT]


@pytest.mark.parametrize("value", ["abc", "-5", "1e3", "0x10", "5, 6"])
def test_malformed_content_length_is_400(
    proxy_port: int, upstream: RecordingUpstream, value: str
) -> None:
    """A Content-Length that is not one decimal number is refused (by granian or by the app)."""
    request = raw_request(
        "/v1/upload", method="POST", token=ALICE, headers=[("Content-Length", value)]
    )
    assert answer(proxy_port, request)[0] == 400
    assert upstream.protected_requests() == []


def trickle(
    port: int,
    head: bytes,
    drip: bytes,
    *,
    interval: float,
    limit: float,
    dripping: threading.Event | None = None,
) -> tuple[float, bytes]:
    """Send `head`, then `drip` one byte per `interval` until the server answers or closes;
    `dripping` is set once the first byte of `drip` is sent.
    Returns how long the server took to end it and what it sent back."""
    started = time.monotonic()
    received = b""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(head)
        position = 0
        while time.monotonic() - started < limit:
            sock.settimeout(interval)
            try:
                data = sock.recv(65536)
            except TimeoutError:
                data = None
            except ConnectionResetError:
                break
            if data is not None:
                received += data
                if not data or b"\r\n\r\n" in received:
                    break
            if drip:
                try:
                    sock.sendall(drip[position % len(drip) : position % len(drip) + 1])
                except OSError:
                    break
                position += 1
                if dripping is not None:
                    dripping.set()
    return time.monotonic() - started, received


@pytest.fixture
def stalled_clients(proxy_port: int) -> Iterator[None]:
    """Fifty connections that send half a request head and then nothing, open during the test."""
    sockets = [socket.create_connection(("127.0.0.1", proxy_port)) for _ in range(50)]
    for sock in sockets:
        sock.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\n")
    yield
    for sock in sockets:
        sock.close()


def test_stalled_request_head_is_closed_in_bounded_time(
    proxy_port: int, stalled_clients: None
) -> None:
    """A head that stops half-way is dropped at the header deadline; others are served."""
    assert normal_request_succeeds(proxy_port)
    elapsed, received = trickle(
        proxy_port, b"GET /v1/models HTTP/1.1\r\nHost: x\r\n", b"", interval=0.2, limit=10
    )
    assert received == b""  # granian drops an incomplete head without answering
    assert elapsed < DEADLINE + 3


def test_trickled_request_head_is_closed_in_bounded_time(
    proxy_port: int, upstream: RecordingUpstream
) -> None:
    """One header byte every 0.2 s (each within any per-read timeout) is still cut off: the header
    deadline covers the whole head. A normal request succeeds while it trickles."""
    result: list[tuple[float, bytes]] = []
    head = b"GET /v1/models HTTP/1.1\r\n"
    drip = b"X-Slow: " + b"a" * 200
    dripping = threading.Event()
    worker = threading.Thread(
        target=lambda: result.append(
            trickle(proxy_port, head, drip, interval=0.2, limit=10, dripping=dripping)
        )
    )
    worker.start()
    assert dripping.wait(5), "the trickling client never got going"
    assert normal_request_succeeds(proxy_port)
    worker.join()
    elapsed, _ = result[0]
    assert elapsed < DEADLINE + 3
    assert len(upstream.protected_requests()) == 1  # only the normal request


def test_stalled_body_is_408_in_bounded_time(proxy_port: int, stalled_clients: None) -> None:
    """A body that stops arriving gets 408 body_timeout after the client deadline. (granian may
    then keep the idle socket open until the client closes it; no Python worker is held.)"""
    head = raw_request(
        "/v1/upload", method="POST", token=ALICE, headers=[("Content-Length", "1000")]
    )
    started = time.monotonic()
    reply = raw_exchange(proxy_port, head + b"x" * 10, timeout=10)
    assert reply.status == 408, reply
    assert time.monotonic() - started < DEADLINE + 3, reply
    assert normal_request_succeeds(proxy_port)


def test_trickled_body_is_408_in_bounded_time(proxy_port: int) -> None:
    """One body byte every 0.2 s never trips a per-chunk timeout, but the total deadline does."""
    head = raw_request(
        "/v1/upload", method="POST", token=ALICE, headers=[("Content-Length", "60000")]
    )
    result: list[tuple[float, bytes]] = []
    dripping = threading.Event()
    worker = threading.Thread(
        target=lambda: result.append(
            trickle(proxy_port, head, b"x", interval=0.2, limit=10, dripping=dripping)
        )
    )
    worker.start()
    assert dripping.wait(5), "the trickling client never got going"
    assert normal_request_succeeds(proxy_port)
    worker.join()
    elapsed, received = result[0]
    assert received.startswith(b"HTTP/1.1 408")
    assert elapsed < DEADLINE + 3
