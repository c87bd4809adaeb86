"""The reply guard on synthetic provider chunks: text is never held, tool calls are assembled
however they are split, and oversized or malformed pieces end the stream with an error."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from openclaw_secure_stack.model_gateway.decisions import AllowAll
from openclaw_secure_stack.model_gateway.errors import GatewayError
from openclaw_secure_stack.model_gateway.provenance import MemoryProvenance
from openclaw_secure_stack.model_gateway.reply import ReplyGuard, ReplySummary


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "c1",
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def guard(records: list[ReplySummary] | None = None, limit: int = 1 << 20) -> ReplyGuard:
    return ReplyGuard(
        decider=AllowAll(),
        provenance=MemoryProvenance(10),
        record=(records if records is not None else []).append,
        request_id="r1",
        model="m",
        read=(),
        max_chars=limit,
    )


async def source(*chunks: dict[str, Any]) -> AsyncIterator[list[dict[str, Any]]]:
    """The chunks as a provider stream, one network read each."""
    for item in chunks:
        yield [item]


def payloads(raw: list[bytes]) -> list[Any]:
    out: list[Any] = []
    for event in b"".join(raw).decode().split("\n\n"):
        if event:
            data = event.removeprefix("data: ")
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


async def test_text_is_sent_before_the_provider_finishes() -> None:
    """A text delta reaches OpenClaw while the provider is still streaming (nothing held)."""
    gate = asyncio.Event()

    async def slow() -> AsyncIterator[list[dict[str, Any]]]:
        yield [chunk({"role": "assistant", "content": "Hel"})]
        await gate.wait()
        yield [chunk({"content": "lo"}, "stop")]

    stream = guard().sse(slow(), include_usage=False)
    async with asyncio.timeout(5):
        first = await anext(stream)
    assert json.loads(first[6:])["choices"][0]["delta"]["content"] == "Hel"
    gate.set()
    rest = payloads([line async for line in stream])
    assert rest[0]["choices"][0]["delta"] == {"content": "lo"}
    assert rest[-2]["choices"][0]["finish_reason"] == "stop"
    assert rest[-1] == "[DONE]"


@pytest.mark.parametrize(
    "pieces",
    [
        # OpenAI: head with id and name, then argument fragments by index
        [
            {
                "index": 0,
                "id": "call_a",
                "type": "function",
                "function": {"name": "exec", "arguments": ""},
            },
            {"index": 0, "function": {"arguments": '{"command"'}},
            {"index": 0, "function": {"arguments": ': "ls"}'}},
        ],
        # A server that sends the whole call in one piece, without an index (Ollama's style)
        [
            {
                "id": "call_a",
                "type": "function",
                "function": {"name": "exec", "arguments": '{"command": "ls"}'},
            }
        ],
        # Name and arguments in the first piece
        [
            {"index": 0, "id": "call_a", "function": {"name": "exec", "arguments": '{"comm'}},
            {"index": 0, "function": {"arguments": 'and": "ls"}'}},
        ],
    ],
    ids=["fragments", "whole-no-index", "early-arguments"],
)
async def test_tool_calls_are_assembled_however_they_are_split(
    pieces: list[dict[str, Any]],
) -> None:
    """Every wire shape of a streamed tool call ends as one whole call."""
    chunks = [chunk({"tool_calls": [piece]}) for piece in pieces] + [chunk({}, "tool_calls")]
    out = payloads([line async for line in guard().sse(source(*chunks), include_usage=False)])
    calls = [
        c for e in out[:-1] for ch in e["choices"] for c in ch["delta"].get("tool_calls") or []
    ]
    assert calls == [
        {
            "index": 0,
            "id": "call_a",
            "type": "function",
            "function": {"name": "exec", "arguments": '{"command": "ls"}'},
        }
    ]


async def test_two_whole_calls_without_index_stay_two() -> None:
    """Without indexes, a new id starts a new call."""
    pieces = [
        {"id": "a", "function": {"name": "read", "arguments": "{}"}},
        {"id": "b", "function": {"name": "ls", "arguments": "{}"}},
    ]
    chunks = [chunk({"tool_calls": [p]}) for p in pieces] + [chunk({}, "tool_calls")]
    out = payloads([line async for line in guard().sse(source(*chunks), include_usage=False)])
    calls = [
        c for e in out[:-1] for ch in e["choices"] for c in ch["delta"].get("tool_calls") or []
    ]
    assert [(c["index"], c["id"]) for c in calls] == [(0, "a"), (1, "b")]


async def test_oversized_arguments_end_the_stream_with_an_error() -> None:
    """A call whose arguments grow past the cap is never passed; an error event ends the stream."""
    records: list[ReplySummary] = []
    piece = {"index": 0, "id": "x", "function": {"name": "w", "arguments": "a" * 60}}
    pieces = [chunk({"tool_calls": [dict(piece)]}) for _ in range(3)]
    out = payloads(
        [line async for line in guard(records, limit=100).sse(source(*pieces), include_usage=False)]
    )
    assert out[-1]["error"]["code"] == "provider_invalid"
    assert all("tool_calls" not in json.dumps(e) for e in out[:-1])
    assert records[0].error == "provider_invalid"


@pytest.mark.parametrize(
    "bad",
    [
        {"choices": ["not an object"]},
        chunk({"tool_calls": "nope"}),
        chunk({"tool_calls": ["nope"]}),
        chunk({"tool_calls": [{"index": 0, "function": "exec"}]}),
        chunk({"function_call": "exec"}),
        {"choices": [{"index": 0, "delta": "text"}]},
        {"choices": [{"index": 1, "delta": {"content": "second choice"}}]},
    ],
)
async def test_malformed_provider_chunks_end_the_stream_with_an_error(bad: dict[str, Any]) -> None:
    """A chunk the guard cannot read is an error, never passed on half-understood."""
    out = payloads(
        [
            line
            async for line in guard().sse(source(chunk({"content": "a"}), bad), include_usage=False)
        ]
    )
    assert out[-1]["error"]["code"] == "provider_invalid"
    assert "[DONE]" not in out


async def test_a_client_that_leaves_still_gets_the_call_recorded() -> None:
    """Closing the stream early writes the audit record with `client_gone`."""
    records: list[ReplySummary] = []
    stream = guard(records).sse(
        source(chunk({"content": "a"}), chunk({"content": "b"})), include_usage=False
    )
    await anext(stream)
    await stream.aclose()
    assert [r.error for r in records] == ["client_gone"]


@pytest.mark.parametrize(
    ("function", "sent", "ends", "reason"),
    [
        ({"arguments": "{}"}, "tool_calls", "stop", "without a name"),
        *[
            ({"name": "read", "arguments": arguments}, "length", "length", "not a JSON object")
            for arguments in ('{"path": "/etc/pas', "[1, 2]", "not json", '"text"')
        ],
    ],
    ids=["no name", "cut off", "array", "not json", "string"],
)
async def test_an_undecidable_call_is_blocked(
    function: dict[str, str], sent: str, ends: str, reason: str
) -> None:
    """A tool call that cannot be decided (no name; arguments that are not a JSON object, cut off
    or of the wrong type) is blocked, with the reason in the reply; a reply left with no call ends
    as `stop`."""
    piece = {"index": 0, "id": "call_x", "function": function}
    chunks = [chunk({"tool_calls": [piece]}), chunk({}, sent)]
    records: list[ReplySummary] = []
    out = payloads(
        [line async for line in guard(records).sse(source(*chunks), include_usage=False)]
    )
    assert all("tool_calls" not in ch["delta"] for e in out[:-1] for ch in e["choices"])
    assert reason in out[-3]["choices"][0]["delta"]["content"]
    assert out[-2]["choices"][0]["finish_reason"] == ends
    assert [c.allowed for c in records[0].calls] == [False]


async def test_a_streamed_message_field_is_read_as_delta() -> None:
    """Servers that stream `message` instead of `delta` get their text and calls read, too."""
    piece = {"index": 0, "id": "c", "function": {"name": "read", "arguments": "{}"}}
    first = {"choices": [{"index": 0, "message": {"content": "Hi", "tool_calls": [piece]}}]}
    out = payloads(
        [line async for line in guard().sse(source(first, chunk({}, "tool_calls")), False)]
    )
    assert out[0]["choices"][0]["delta"] == {"content": "Hi"}
    assert out[1]["choices"][0]["delta"]["tool_calls"][0]["id"] == "c"


async def test_a_legacy_function_call_is_decided_and_sent_in_the_current_form() -> None:
    """A provider's `delta.function_call` (which OpenClaw's client would also run) goes through
    the decision hook and leaves as a `tool_calls` entry; nothing legacy passes."""
    pieces = [
        chunk({"role": "assistant", "function_call": {"name": "exec", "arguments": '{"comm'}}),
        chunk({"function_call": {"arguments": 'and": "id"}'}}),
        chunk({}, "function_call"),
    ]
    records: list[ReplySummary] = []
    out = payloads([line async for line in guard(records).sse(source(*pieces), False)])
    assert "function_call" not in json.dumps(out[:-2])
    calls = [
        c for e in out[:-1] for ch in e["choices"] for c in ch["delta"].get("tool_calls") or []
    ]
    assert [(c["function"]["name"], c["function"]["arguments"]) for c in calls] == [
        ("exec", '{"command": "id"}')
    ]
    assert out[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert [c.name for c in records[0].calls] == ["exec"]


async def test_a_non_streamed_reply_is_bounded() -> None:
    """A reply held whole for a non-streaming client cannot grow past the cap."""
    pieces = [chunk({"content": "x" * 60}) for _ in range(5)]
    records: list[ReplySummary] = []
    with pytest.raises(GatewayError) as caught:
        await guard(records, limit=200).completion(source(*pieces))
    assert caught.value.code == "provider_invalid"
    assert records[0].error == "provider_invalid"
