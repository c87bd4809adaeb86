"""Attempts to reach a protected route without a valid token, sent over raw sockets exactly as
written (a client library would normalize most of them). For every variant the exact status is
asserted, and the upstream's request log proves that nothing reached OpenClaw."""

from __future__ import annotations

import json

import pytest

from openclaw_secure_stack.proxy.testing import (
    TEST_CLIENT_TOKENS,
    TEST_GATEWAY_TOKEN,
    RecordingUpstream,
    raw_exchange,
    raw_request,
)

ALICE = TEST_CLIENT_TOKENS["alice"]
CHAT = "/v1/chat/completions"

# Targets the proxy must refuse as ambiguous (400), with or without a valid token.
AMBIGUOUS = [
    "/health/../v1/chat/completions",
    "/health/%2e%2e/v1/chat/completions",
    "/health/%2E%2E/v1/chat/completions",
    "/health/.%2e/v1/chat/completions",
    "/health/%2e./v1/chat/completions",
    "/health/%2e",
    "/health%2f..%2fv1/chat/completions",
    "/health%2F..%2Fv1/chat/completions",
    "/health%2f",
    "/health%5c..%5cv1/chat/completions",
    "/health\\..\\v1/chat/completions",
    "/health/..\\v1/chat/completions",
    "/health;/../v1/chat/completions",
    "/health;x",
    "/health;jsessionid=1",
    "/v1;/chat/completions",
    "/v1/chat/completions;.css",
    "//health/../v1/chat/completions",
    "//v1/chat/completions",
    "/health//../v1/chat/completions",
    "/v1//chat/completions",
    "/./v1/chat/completions",
    "/health/./../v1/chat/completions",
    "/health/..",
    "/%2e%2e/health",
    "/ready/../v1/chat/completions",
    "/v1/chat/completions/../../health",
    "/health/%252e%252e/v1/chat/completions",
    "/health%252f..%252fv1/chat/completions",
    "/health/%25%32%65%25%32%65/v1",
    "/%c0%ae%c0%ae/v1/chat/completions",
    "/health/%c0%ae%c0%ae/v1/chat/completions",
    "/health/%e0%80%ae%e0%80%ae/v1/chat/completions",
    "/health%c0%af..%c0%afv1/chat/completions",
    "/health/%ef%bc%8e%ef%bc%8e/v1/chat/completions",
    "/health%ef%bc%8f..%ef%bc%8fv1/chat/completions",
    "/health/%e2%80%a4%e2%80%a4/v1/chat/completions",
    "/health%ef%bc%bc..%ef%bc%bcv1",
    "/health%00",
    "/health%00/../v1/chat/completions",
    "/health%0a",
    "/health%0d%0aX-Injected:%201",
    "/health%09",
    "/health%7f",
    "/health%u002e",
    "/health%",
    "/health%e2%80%8b",
    "/h%65alth",
    "/%68ealth",
    "/health%2E",
    "/v1/chat/completion%73",
    "/héalth".encode(),
    "/health/\u2025/v1".encode(),
]

# Well-formed paths that are not exactly /health or /ready: a token is required (401).
NOT_EXEMPT = [
    CHAT,
    "/",
    "/v1/models",
    "/HEALTH",
    "/Health",
    "/health/",
    "/healthz",
    "/health.json",
    "/health~",
    "/health/...",
    "/health%20",
    "/readyz",
    "/ready/",
    "/READY",
    "/v1/health",
    "/health-check",
    "/v1/chat/completions?x=/health",
    "/v1/chat/completions#/health",
    "/v1/chat/completions%23/health",
    "/v1/chat/completions%3f/health",
    "/health/%e3%80%82%e3%80%82/v1",
    "/__openclaw__/ws",
    "/v1/responses",
    "/tools/invoke",
]

# Absolute-form targets: the path inside is what is checked and forwarded.
ABSOLUTE_FORM = [
    ("http://proxy.test/v1/chat/completions", 401),
    ("http://127.0.0.1:18789/v1/chat/completions", 401),
    ("http://evil@proxy.test/v1/chat/completions", 401),
    ("https://proxy.test/v1/chat/completions", 401),
    ("HTTP://PROXY.TEST/v1/chat/completions", 401),
    ("http://proxy.test/health/../v1/chat/completions", 400),
    ("http://proxy.test/health/%2e%2e/v1/chat/completions", 400),
    ("http://proxy.test//v1/chat/completions", 400),
    ("http://proxy.test/health;/v1", 400),
    ("http:///v1/chat/completions", 400),
    ("ws://proxy.test/v1/chat/completions", 401),
    ("v1/chat/completions", 400),
    ("*", 400),
]


def send(port: int, request: bytes) -> tuple[int | None, dict[str, object] | None]:
    reply = raw_exchange(port, request, timeout=3)
    try:
        error = json.loads(reply.body)["error"]
    except (ValueError, KeyError, TypeError):
        error = None
    return reply.status, error


def assert_not_forwarded(upstream: RecordingUpstream) -> None:
    assert upstream.protected_requests() == [], "a request reached OpenClaw"


@pytest.mark.parametrize("target", AMBIGUOUS)
@pytest.mark.parametrize("token", [None, ALICE], ids=["no-token", "valid-token"])
def test_ambiguous_target_is_400_even_with_a_valid_token(
    proxy_port: int, upstream: RecordingUpstream, target: str | bytes, token: str | None
) -> None:
    """Ambiguous paths are refused before auth, so a token does not make them forwardable."""
    status, error = send(proxy_port, raw_request(target, token=token))
    assert status == 400
    assert error is not None and error["code"] == "bad_target"
    assert_not_forwarded(upstream)


@pytest.mark.parametrize("target", NOT_EXEMPT)
def test_near_miss_of_an_exempt_path_needs_a_token(
    proxy_port: int, upstream: RecordingUpstream, target: str
) -> None:
    """Case, suffix, prefix and encoding variants of /health and /ready are not exempt: 401."""
    status, error = send(proxy_port, raw_request(target))
    assert (status, error and error["code"]) == (401, "missing_token")
    assert_not_forwarded(upstream)


@pytest.mark.parametrize(("target", "expected"), ABSOLUTE_FORM)
def test_absolute_form_target(
    proxy_port: int, upstream: RecordingUpstream, target: str, expected: int
) -> None:
    """Absolute-form and non-path targets get the status their path deserves; never forwarded."""
    status, _ = send(proxy_port, raw_request(target))
    assert status == expected
    assert_not_forwarded(upstream)


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        *[(m, 401) for m in ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE")],
        *[(m, 405) for m in ("TRACE", "PROPFIND", "get")],
    ],
)
def test_every_method_needs_a_token(
    proxy_port: int, upstream: RecordingUpstream, method: str, expected: int
) -> None:
    """HEAD, OPTIONS (CORS preflight) are not exempt from auth; unusual methods and other
    spellings are refused at the edge (405) before auth."""
    status, _ = send(proxy_port, raw_request(CHAT, method=method))
    assert status == expected
    assert_not_forwarded(upstream)


@pytest.mark.parametrize(
    ("request_bytes", "expected"),
    [
        (raw_request("*", method="OPTIONS"), 400),
        (raw_request("proxy.test:443", method="CONNECT"), 405),
    ],
    ids=["OPTIONS *", "CONNECT authority-form"],
)
def test_non_path_request_forms(
    proxy_port: int, upstream: RecordingUpstream, request_bytes: bytes, expected: int
) -> None:
    """Asterisk-form and authority-form requests are refused."""
    assert send(proxy_port, request_bytes)[0] == expected
    assert_not_forwarded(upstream)


HOST_TRICKS = {
    "upstream's own host": raw_request(CHAT, host="127.0.0.1:18789"),
    "localhost": raw_request(CHAT, host="localhost"),
    "empty host": raw_request(CHAT, host=""),
    "no host": raw_request(CHAT, host=None),
    "host with path": raw_request(CHAT, host="proxy.test/health"),
    "host with userinfo": raw_request(CHAT, host="user@proxy.test"),
    "ipv6 loopback": raw_request(CHAT, host="[::1]"),
    "host with exempt-looking port": raw_request(CHAT, host="proxy.test:80/health?"),
}


@pytest.mark.parametrize("request_bytes", HOST_TRICKS.values(), ids=HOST_TRICKS.keys())
def test_host_header_plays_no_part_in_auth(
    proxy_port: int, upstream: RecordingUpstream, request_bytes: bytes
) -> None:
    """Whatever Host says, a protected path without a token is 401."""
    assert send(proxy_port, request_bytes)[0] == 401
    assert_not_forwarded(upstream)


def test_duplicate_host_is_400(proxy_port: int, upstream: RecordingUpstream) -> None:
    """Two Host headers are refused (RFC 9112), whatever they say."""
    request = raw_request(CHAT, headers=[("Host", "127.0.0.1")])
    assert send(proxy_port, request) == (
        400,
        {"code": "duplicate_host", "message": "send exactly one Host header"},
    )
    assert_not_forwarded(upstream)


HEADER_TRICKS = {
    "X-Original-URL": [("X-Original-URL", "/health")],
    "X-Rewrite-URL": [("X-Rewrite-URL", "/health")],
    "X-Forwarded-For loopback": [("X-Forwarded-For", "127.0.0.1")],
    "X-Real-IP loopback": [("X-Real-IP", "127.0.0.1")],
    "Forwarded loopback": [("Forwarded", "for=127.0.0.1;proto=https")],
    "X-Forwarded-Host": [("X-Forwarded-Host", "localhost")],
    "X-Forwarded-Prefix": [("X-Forwarded-Prefix", "/health")],
    "X-HTTP-Method-Override": [("X-HTTP-Method-Override", "GET")],
    "Proxy-Authorization": [("Proxy-Authorization", f"Bearer {ALICE}")],
    "Cookie token": [("Cookie", f"token={ALICE}")],
    "X-Api-Key": [("X-Api-Key", ALICE)],
    "X-Auth-Token": [("X-Auth-Token", ALICE)],
    "Connection drops Authorization": [("Connection", "Authorization")],
}


@pytest.mark.parametrize("headers", HEADER_TRICKS.values(), ids=HEADER_TRICKS.keys())
def test_other_headers_never_stand_in_for_authorization(
    proxy_port: int, upstream: RecordingUpstream, headers: list[tuple[str, str]]
) -> None:
    """Rewrite, forwarding and alternative credential headers do not authenticate: 401."""
    assert send(proxy_port, raw_request(CHAT, headers=headers))[0] == 401
    assert_not_forwarded(upstream)


def test_token_in_query_string_is_not_a_credential(
    proxy_port: int, upstream: RecordingUpstream
) -> None:
    """?access_token=<valid token> does not authenticate."""
    assert send(proxy_port, raw_request(f"{CHAT}?access_token={ALICE}&token={ALICE}"))[0] == 401
    assert_not_forwarded(upstream)


def test_gateway_token_is_not_a_client_token(proxy_port: int, upstream: RecordingUpstream) -> None:
    """The proxy's own OpenClaw token is rejected when a client presents it (separate secrets)."""
    assert send(proxy_port, raw_request(CHAT, token=TEST_GATEWAY_TOKEN))[0] == 403
    assert_not_forwarded(upstream)


@pytest.mark.parametrize("target", ["/health?/../v1/chat/completions", "/health", "/ready?x=1"])
def test_exempt_paths_are_answered_by_the_proxy_not_forwarded(
    proxy_port: int, upstream: RecordingUpstream, target: str
) -> None:
    """/health and /ready (whatever the query) are answered locally; OpenClaw sees no request
    (the readiness probe to OpenClaw's /readyz aside)."""
    request = raw_request(target, headers=[("X-Original-URL", CHAT)])
    assert send(proxy_port, request)[0] == 200
    assert_not_forwarded(upstream)


def test_pipelined_request_after_an_exempt_one_is_checked_too(
    proxy_port: int, upstream: RecordingUpstream
) -> None:
    """A second request pipelined behind /health on one connection gets its own auth check."""
    first = raw_request("/health").replace(b"Connection: close\r\n", b"")
    reply = raw_exchange(proxy_port, first + raw_request(CHAT), timeout=3, until_close=True)
    assert reply.status == 200
    assert b"HTTP/1.1 401" in reply.body
    assert_not_forwarded(upstream)


def test_request_smuggling_with_content_length_and_chunked_is_refused(
    proxy_port: int, upstream: RecordingUpstream
) -> None:
    """CL.TE smuggling of a protected request behind /health: nothing reaches OpenClaw."""
    smuggled = raw_request(CHAT)
    body = b"0\r\n\r\n" + smuggled
    request = raw_request(
        "/health",
        method="POST",
        headers=[("Content-Length", str(len(body))), ("Transfer-Encoding", "chunked")],
        body=body,
    )
    reply = raw_exchange(proxy_port, request, timeout=3)
    # Transfer-Encoding wins (RFC 9112): /health is answered, the rest is not a request to proxy.
    assert (reply.status, reply.body) == (200, b'{"status":"ok"}')
    assert_not_forwarded(upstream)


WEBSOCKET = [
    ("/ws", None, 401),
    ("/ws", "not-a-valid-token-0123", 403),
    ("/health/../ws", None, 400),
    ("/health%2f..%2fws", ALICE, 400),
    ("/health", None, 400),
    ("/ready", ALICE, 400),
]


@pytest.mark.parametrize(("target", "token", "expected"), WEBSOCKET)
def test_websocket_upgrade_is_under_the_same_rules(
    proxy_port: int, upstream: RecordingUpstream, target: str, token: str | None, expected: int
) -> None:
    """An upgrade needs a token like any request, and exempt paths never tunnel to OpenClaw."""
    upgrade = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("Sec-WebSocket-Version", "13"),
    ]
    request = raw_request(target, token=token, headers=upgrade).replace(
        b"Connection: close\r\n", b""
    )
    assert send(proxy_port, request)[0] == expected
    assert_not_forwarded(upstream)
