"""Prompt extraction: the texts OpenClaw 2026.9.6 builds from a chat request, mirrored exactly,
with every character traced to the body string it came from."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from openclaw_secure_stack.proxy.flow import Reject
from openclaw_secure_stack.proxy.prompt import (
    CURRENT_MARKER,
    HISTORY_MARKER,
    JS_WHITESPACE,
    Rope,
    chat_texts,
    responses_texts,
)
from openclaw_secure_stack.runtime.node import find_node


def texts(found: list[Any]) -> dict[str, list[str]]:
    by_name: dict[str, list[str]] = {}
    for text in found:
        by_name.setdefault(text.name, []).append(text.rope.text)
    return by_name


def test_js_whitespace_is_exactly_what_node_trims() -> None:
    """The trim set equals the code points whose String.prototype.trim() is empty in Node 24."""
    script = (
        "const a=[];for(let c=0;c<0x110000;c++){if(c>=0xd800&&c<0xe000)continue;"
        'if(String.fromCodePoint(c).trim()==="")a.push(c)}console.log(JSON.stringify(a))'
    )
    node = find_node().node
    output = subprocess.run(
        [str(node), "-e", script], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert sorted(ord(c) for c in JS_WHITESPACE) == sorted(int(c) for c in output[1:-2].split(","))


def test_role_is_trimmed_like_javascript_and_parts_join_with_newlines() -> None:
    """BOM, NBSP and spaces around a role are trimmed; text, input_text and the input_text
    field of any part are read; empty parts are skipped; the joined text is trimmed."""
    messages = [
        {
            "role": "\ufeff user\u00a0\u3000",
            "content": [
                {"type": "text", "text": "  one"},
                {"type": "input_text", "input_text": "two"},
                {"type": "text", "text": ""},
                {"type": "image_url", "image_url": {"url": "x"}, "input_text": "three "},
                {"type": "text", "text": 5, "input_text": "four\u2028"},
            ],
        }
    ]
    found = texts(chat_texts({"messages": messages}))
    assert found == {"prompt": ["one\ntwo\nthree \nfour"], "turn": ["one\ntwo\nthree \nfour"]}


def test_history_tool_calls_and_results_are_rendered_as_openclaw_does() -> None:
    """Earlier turns become `Sender: body` history lines under OpenClaw's markers; tool calls are
    rendered `tool_call id=.. name=.. arguments=..`; system turns join with blank lines."""
    messages = [
        {"role": "system", "content": " Rule one. "},
        {"role": "user", "content": "list"},
        {
            "role": "assistant",
            "content": "Sure.",
            "tool_calls": [
                {"id": " c1 ", "function": {"name": "ls", "arguments": '{"p":"."}'}},
                {"id": "c2", "function": {"name": "stat", "arguments": {"p": "a", "n": [1]}}},
                {"id": "", "function": {"name": "skipped", "arguments": "{}"}},
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "a\nb"},
        {"role": "function", "name": " stat ", "content": None},
        {"role": "developer", "content": [{"type": "text", "text": "Rule two."}]},
        {"role": "user", "content": "thanks"},
        {"role": "assistant", "content": "dropped: after the current turn"},
    ]
    found = texts(chat_texts({"messages": messages}))
    history = (
        "User: list\n"
        'Assistant: Sure.\ntool_call id=c1 name=ls arguments={"p":"."}\n'
        'tool_call id=c2 name=stat arguments={"p":"a","n":[1]}\n'
        "Tool:c1: a\nb\n"
        "Tool:stat: "
    )
    assert found["prompt"] == [f"{HISTORY_MARKER}\n{history}\n\n{CURRENT_MARKER}\nUser: thanks"]
    assert found["system"] == ["Rule one.\n\nRule two."]
    assert found["turn"] == ["list", "thanks"]
    assert found["tool_result"] == ["a\nb"]


def test_a_tool_result_as_the_current_turn_is_labelled() -> None:
    """A conversation ending in a tool result sends it as `Tool:<id>: ...` even without history."""
    messages = [{"role": "tool", "tool_call_id": "t9", "content": "out"}]
    assert texts(chat_texts({"messages": messages}))["prompt"] == ["Tool:t9: out"]


def test_tools_and_response_format_strings_are_scanned() -> None:
    """Tool names, descriptions, parameter strings and response_format strings form texts."""
    body = {
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": " lookup ",
                    "description": "Finds things.",
                    "parameters": {"properties": {"q": {"description": "query text"}}},
                },
            }
        ],
        "response_format": {"type": "json_schema", "json_schema": {"description": "shape"}},
    }
    found = texts(chat_texts(body))
    assert found["tools"] == ["lookup\nFinds things.\nproperties\nq\ndescription\nquery text"]
    assert found["response_format"] == ["type\njson_schema\njson_schema\ndescription\nshape"]


def test_locate_maps_joined_text_back_to_body_fields_after_trimming() -> None:
    """A range of the joined text maps to the exact ranges of the body strings it came from."""
    messages = [
        {
            "role": "user",
            "content": [{"type": "text", "text": "  ab"}, {"type": "text", "text": "cd "}],
        }
    ]
    [prompt] = [t for t in chat_texts({"messages": messages}) if t.name == "prompt"]
    assert prompt.rope.text == "ab\ncd"
    located = [(f.where, low, high) for f, low, high in prompt.rope.locate(1, 4)]
    assert located == [("messages[0].content[0].text", 3, 4), ("messages[0].content[1].text", 0, 1)]


def test_rope_join_keeps_empty_members_as_separators() -> None:
    """Joining ['a', '', 'b'] with a newline gives 'a\\n\\nb', as JavaScript's join does."""
    assert Rope.join("\n", [Rope.literal("a"), Rope(), Rope.literal("b")]).text == "a\n\nb"


def test_responses_input_items_and_instructions() -> None:
    """/v1/responses: messages, function calls (call_id, else id) and outputs form the prompt;
    instructions and system items the system text."""
    body = {
        "instructions": "Be kind.",
        "input": [
            {"type": "message", "role": "system", "content": " sys "},
            {
                "type": "message",
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "a"},
                    {"type": "input_image", "source": {"type": "url", "url": "http://x"}},
                    {"type": "output_text", "text": "b"},
                ],
            },
            {"type": "function_call", "id": "f1", "name": "ls", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "f1", "output": " out "},
        ],
    }
    found = texts(responses_texts(body))
    assert found["prompt"] == [
        f"{HISTORY_MARKER}\nUser: a\nb\nAssistant: tool_call id=f1 name=ls arguments={{}}\n\n"
        f"{CURRENT_MARKER}\nTool:f1:  out "
    ]
    assert found["system"] == ["Be kind.\n\nsys"]
    assert found["tool_result"] == [" out "]


def test_responses_string_input_is_the_prompt_untrimmed() -> None:
    """A string `input` is the prompt exactly as sent."""
    assert texts(responses_texts({"input": " hi "}))["prompt"] == [" hi "]


REFUSED: dict[str, tuple[str, dict[str, Any], str]] = {
    "unknown role": ("chat", {"messages": [{"role": "User", "content": "x"}]}, "unsupported_role"),
    "empty role": ("chat", {"messages": [{"role": " ", "content": "x"}]}, "unsupported_role"),
    "unknown part": (
        "chat",
        {"messages": [{"role": "user", "content": [{"type": "file", "text": "x"}]}]},
        "unsupported_content",
    ),
    "part without type": (
        "chat",
        {"messages": [{"role": "user", "content": [{"input_text": "x"}]}]},
        "unsupported_content",
    ),
    "non-object part": (
        "chat",
        {"messages": [{"role": "user", "content": ["x"]}]},
        "invalid_body",
    ),
    "content object": ("chat", {"messages": [{"role": "user", "content": {}}]}, "invalid_body"),
    "non-function tool": ("chat", {"tools": [{"type": "web"}]}, "unsupported_content"),
    "input_file": (
        "responses",
        {"input": [{"type": "message", "role": "user", "content": [{"type": "input_file"}]}]},
        "unsupported_content",
    ),
    "reasoning item": (
        "responses",
        {"input": [{"type": "reasoning", "content": "x"}]},
        "unsupported_content",
    ),
    "item_reference": (
        "responses",
        {"input": [{"type": "item_reference", "id": "r"}]},
        "unsupported_content",
    ),
    "trimmed responses role": (
        "responses",
        {"input": [{"type": "message", "role": "user ", "content": "x"}]},
        "unsupported_role",
    ),
    "output not a string": (
        "responses",
        {"input": [{"type": "function_call_output", "call_id": "c", "output": {}}]},
        "invalid_body",
    ),
}


@pytest.mark.parametrize(("api", "body", "code"), REFUSED.values(), ids=REFUSED.keys())
def test_what_cannot_be_scanned_is_refused(api: str, body: dict[str, Any], code: str) -> None:
    """Unknown roles, part and item types, files and malformed fields are a 400, never skipped."""
    extract = chat_texts if api == "chat" else responses_texts
    with pytest.raises(Reject) as info:
        extract(body)
    assert (info.value.status, info.value.code) == (400, code)
