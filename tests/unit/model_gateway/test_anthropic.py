"""OpenAI chat requests translated to Anthropic Messages, and Messages events back to chunks."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from openclaw_secure_stack.model_gateway.errors import GatewayError
from openclaw_secure_stack.model_gateway.providers.anthropic import (
    DEFAULT_MAX_TOKENS,
    messages_request,
    openai_chunks,
)
from openclaw_secure_stack.model_gateway.sse import Event


def call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def test_a_tool_cycle_becomes_alternating_turns_with_results_first() -> None:
    """Two tool results and OpenClaw's trailing user message merge into one user turn, results
    first; system and developer messages become `system`; the assistant's calls `tool_use`."""
    request = {
        "messages": [
            {"role": "system", "content": "sys"},
            {"role": "developer", "content": [{"type": "text", "text": "dev"}]},
            {"role": "user", "content": "do two things"},
            {
                "role": "assistant",
                "content": "On it.",
                "tool_calls": [call("c_1", "read", '{"path": "a"}'), call("c_2", "ls", "")],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "A"},
            {"role": "tool", "tool_call_id": "c2", "content": [{"type": "text", "text": "B"}]},
            {"role": "user", "content": "[internal]"},
        ]
    }
    body = messages_request(request, "claude-x")
    assert body["system"] == "sys\n\ndev"
    assert body["max_tokens"] == DEFAULT_MAX_TOKENS
    assert (body["model"], body["stream"]) == ("claude-x", True)
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "do two things"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "On it."},
                {"type": "tool_use", "id": "c_1", "name": "read", "input": {"path": "a"}},
                {"type": "tool_use", "id": "c_2", "name": "ls", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "c1", "content": "A"},
                {"type": "tool_result", "tool_use_id": "c2", "content": "B"},
                {"type": "text", "text": "[internal]"},
            ],
        },
    ]


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        ("auto", None, {"type": "auto"}),
        ("none", None, {"type": "none"}),
        ("required", None, {"type": "any"}),
        (
            {"type": "function", "function": {"name": "read"}},
            None,
            {"type": "tool", "name": "read"},
        ),
        ("auto", False, {"type": "auto", "disable_parallel_tool_use": True}),
        (None, None, None),
    ],
)
def test_tool_choice_maps(choice: Any, parallel: Any, expected: Any) -> None:
    """Each OpenAI tool_choice has its Messages equivalent."""
    request: dict[str, Any] = {
        "messages": [{"role": "user", "content": "x"}],
        "tools": [{"type": "function", "function": {"name": "read", "description": "Read"}}],
    }
    if choice is not None:
        request["tool_choice"] = choice
    if parallel is not None:
        request["parallel_tool_calls"] = parallel
    body = messages_request(request, "m")
    assert body.get("tool_choice") == expected
    assert body["tools"] == [
        {
            "name": "read",
            "description": "Read",
            "input_schema": {"type": "object", "properties": {}},
        }
    ]


def test_sampling_options_and_images_map() -> None:
    """max tokens, temperature, stop and image parts (data URL and URL) are carried over."""
    request = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "see"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                    {"type": "image_url", "image_url": {"url": "https://x.example/a.png"}},
                ],
            }
        ],
        "max_completion_tokens": 50,
        "temperature": 0.2,
        "stop": "END",
    }
    body = messages_request(request, "m")
    assert (body["max_tokens"], body["temperature"], body["stop_sequences"]) == (50, 0.2, ["END"])
    assert body["messages"][0]["content"][1:] == [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
        {"type": "image", "source": {"type": "url", "url": "https://x.example/a.png"}},
    ]


@pytest.mark.parametrize(
    "messages",
    [
        [{"role": "assistant", "tool_calls": [call("c", "read", "not json")]}],
        [{"role": "assistant", "tool_calls": [call("c", "read", "[1, 2]")]}],
        [{"role": "assistant", "tool_calls": "x"}],
        [{"role": "user", "content": [{"type": "audio"}]}],
        [{"role": "user", "content": 5}],
    ],
)
def test_untranslatable_requests_are_400(messages: list[Any]) -> None:
    """What Messages cannot express is refused with a 400, never sent half-translated."""
    with pytest.raises(GatewayError) as caught:
        messages_request({"messages": messages}, "m")
    assert caught.value.status == 400


def event(kind: str, **data: Any) -> Event:
    return Event(kind, json.dumps({"type": kind, **data}))


async def replay(*events: Event) -> list[dict[str, Any]]:
    async def source() -> AsyncIterator[list[Event]]:
        for item in events:
            yield [item]

    return [chunk async for batch in openai_chunks(source(), "m") for chunk in batch]


START = event(
    "message_start",
    message={
        "id": "msg_1",
        "model": "claude-x",
        "usage": {"input_tokens": 5, "cache_read_input_tokens": 3, "output_tokens": 1},
    },
)


@pytest.mark.parametrize(
    ("reason", "finish"),
    [
        ("end_turn", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("stop_sequence", "stop"),
        ("refusal", "content_filter"),
    ],
)
async def test_stop_reasons_and_usage_translate(reason: str, finish: str) -> None:
    """Stop reasons map to finish reasons; cached input tokens count as prompt tokens."""
    chunks = await replay(
        START,
        event("message_delta", delta={"stop_reason": reason}, usage={"output_tokens": 9}),
        event("message_stop"),
    )
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[1]["choices"][0]["finish_reason"] == finish
    assert chunks[2]["usage"] == {"prompt_tokens": 8, "completion_tokens": 9, "total_tokens": 17}
    assert chunks[2]["model"] == "claude-x"


async def test_tool_use_blocks_after_text_get_their_own_indexes() -> None:
    """Content block indexes (text 0, tools 1 and 2) become tool call indexes 0 and 1."""
    chunks = await replay(
        START,
        event("content_block_start", index=0, content_block={"type": "text", "text": ""}),
        event("content_block_delta", index=0, delta={"type": "text_delta", "text": "hi"}),
        event(
            "content_block_start",
            index=1,
            content_block={"type": "tool_use", "id": "t1", "name": "a"},
        ),
        event(
            "content_block_delta", index=1, delta={"type": "input_json_delta", "partial_json": "{}"}
        ),
        event(
            "content_block_start",
            index=2,
            content_block={"type": "tool_use", "id": "t2", "name": "b"},
        ),
        event(
            "content_block_delta",
            index=2,
            delta={"type": "input_json_delta", "partial_json": '{"x":1}'},
        ),
        event("message_stop"),
    )
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert deltas[1] == {"content": "hi"}
    tool_pieces = [d["tool_calls"][0] for d in deltas if "tool_calls" in d]
    assert [(p["index"], p.get("id"), p["function"].get("arguments")) for p in tool_pieces] == [
        (0, "t1", ""),
        (0, None, "{}"),
        (1, "t2", ""),
        (1, None, '{"x":1}'),
    ]


@pytest.mark.parametrize(
    ("events", "code"),
    [
        (
            [START, event("error", error={"type": "overloaded_error", "message": "busy"})],
            "provider_error",
        ),
        ([START], "provider_broken"),
        ([START, Event("message", "{not json")], "provider_invalid"),
        (
            [
                START,
                event(
                    "content_block_delta",
                    index=4,
                    delta={"type": "input_json_delta", "partial_json": "{}"},
                ),
            ],
            "provider_invalid",
        ),
    ],
    ids=["error-event", "no-message-stop", "bad-json", "orphan-input"],
)
async def test_broken_streams_raise(events: list[Event], code: str) -> None:
    """An error event, a stream cut before message_stop or unreadable data is a GatewayError."""
    with pytest.raises(GatewayError) as caught:
        await replay(*events)
    assert caught.value.code == code
