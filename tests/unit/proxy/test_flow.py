"""Flow building blocks: headers, the capped streaming body, JSON errors."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from openclaw_secure_stack.proxy.flow import Body, ClientGone, Headers, Reject, Response
from openclaw_secure_stack.proxy.testing import make_flow


def test_headers_are_multi_valued_and_case_insensitive() -> None:
    """get returns the first value, get_all all of them, set replaces, remove drops all."""
    headers = Headers([("X-A", "1"), ("x-a", "2"), ("B", "3")])
    assert headers.get("x-A") == "1"
    assert headers.get_all("X-a") == ["1", "2"]
    headers.set("X-A", "9")
    assert headers.get_all("x-a") == ["9"]
    headers.remove("b", "x-a")
    assert headers.items() == []
    assert "b" not in headers


def test_headers_round_trip_raw_bytes() -> None:
    """ASGI byte pairs come in lower-cased and go out unchanged."""
    headers = Headers.from_raw([(b"Content-Type", b"text/plain")])
    assert headers.raw() == [(b"content-type", b"text/plain")]


async def test_body_streams_chunks_in_order() -> None:
    """Iterating the body yields each received chunk as it arrives."""
    flow = make_flow(body=[b"ab", b"cd", b"ef"])
    assert [chunk async for chunk in flow.request.body] == [b"ab", b"cd", b"ef"]
    assert flow.request.body.complete.is_set()


async def test_read_returns_whole_body_and_is_repeatable() -> None:
    """read() joins the chunks; a second read returns the same bytes without receiving again."""
    flow = make_flow(body=[b'{"a":', b"1}"])
    assert await flow.request.body.read() == b'{"a":1}'
    assert await flow.request.body.read() == b'{"a":1}'
    assert [chunk async for chunk in flow.request.body] == [b'{"a":1}']


async def test_body_over_limit_is_413_while_streaming() -> None:
    """A chunked body that grows past the limit raises 413 as soon as it does."""
    flow = make_flow(body=[b"x" * 600, b"x" * 600], length=None, limit=1024)
    with pytest.raises(Reject) as caught:
        await flow.request.body.read()
    assert (caught.value.status, caught.value.code) == (413, "body_too_large")


async def test_slow_body_is_408() -> None:
    """A client that stops sending mid-body gets 408 after the per-chunk timeout."""

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(10)
        return {}

    body = Body(receive, length=10, limit=100, timeout=0.05)
    with pytest.raises(Reject) as caught:
        await body.read()
    assert (caught.value.status, caught.value.code) == (408, "body_timeout")


async def test_disconnect_mid_body_is_client_gone() -> None:
    """http.disconnect while reading the body raises ClientGone."""

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    with pytest.raises(ClientGone):
        await Body(receive, length=10, limit=100, timeout=1).read()


async def test_replace_swaps_content_and_length() -> None:
    """A stage's replacement is what streams on, with its own length."""
    flow = make_flow(body=[b"original"])
    await flow.request.body.read()
    flow.request.body.replace(b"new!")
    assert flow.request.body.length == 4
    assert [chunk async for chunk in flow.request.body] == [b"new!"]


async def test_body_cannot_be_streamed_twice() -> None:
    """Streaming consumes the body; a second stream is a programming error, not silent data loss."""
    flow = make_flow(body=[b"a"])
    assert [chunk async for chunk in flow.request.body] == [b"a"]
    with pytest.raises(RuntimeError):
        [chunk async for chunk in flow.request.body]


async def test_error_response_is_the_common_json_shape() -> None:
    """Errors are {"error": {"code", "message"}} with a matching Content-Length."""
    response = Response.error(418, "teapot", "short and stout")
    content = b"".join([chunk async for chunk in response.body])
    assert json.loads(content) == {"error": {"code": "teapot", "message": "short and stout"}}
    assert response.headers.get("content-length") == str(len(content))
    assert response.origin == "proxy"


def test_deny_answers_and_notes_the_code() -> None:
    """flow.deny sets the JSON error response and records the code for the audit stage."""
    flow = make_flow()
    response = flow.deny(403, "nope", "no")
    assert flow.response is response
    assert (response.status, flow.notes["denied"]) == (403, "nope")


async def test_trickled_body_is_408_within_the_total_budget() -> None:
    """One byte just inside each per-chunk timeout still runs into the total deadline."""

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(0.03)
        return {"type": "http.request", "body": b"x", "more_body": True}

    body = Body(receive, length=1000, limit=2000, timeout=0.1)
    with pytest.raises(Reject) as caught:
        await body.read()
    assert (caught.value.status, caught.value.code) == (408, "body_timeout")
