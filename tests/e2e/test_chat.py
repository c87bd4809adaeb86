"""Chat through the proxy reaches the real OpenClaw, the model answers, the reply comes back."""

from __future__ import annotations

import uuid

from harness import PROVIDER_KEY, StackHandle

from openclaw_secure_stack.runtime.no_model import NOT_CONFIGURED


def canary() -> str:
    return "canary-" + uuid.uuid4().hex


def test_json_chat_goes_through_openclaw_to_the_model_and_back(stack: StackHandle) -> None:
    """A JSON chat request gets the model's reply; the model saw the user's text via OpenClaw."""
    marker, answer = canary(), "pong " + canary()
    stack.llm.reply(answer)

    result = stack.chat(f"ping {marker}")

    assert result.status == 200, result.body
    assert result.json()["object"] == "chat.completion"
    assert result.text() == answer
    calls = [request for request in stack.llm.requests if marker in request.text()]
    assert calls, "the user's message never reached the model"
    # OpenClaw, not the client, made the model call: its agent prompt and tools, our provider key.
    assert calls[0].body["stream"] is True
    assert calls[0].body.get("tools")
    assert calls[0].headers["Authorization"] == f"Bearer {PROVIDER_KEY}"
    assert stack.openclaw_traces(marker), "OpenClaw stored no transcript with the message"


def test_streamed_chat_arrives_as_sse_ending_in_done(stack: StackHandle) -> None:
    """With stream:true the client gets SSE chunks whose deltas add up to the reply, then [DONE]."""
    answer = "a streamed answer long enough to need several chunks " + canary()
    stack.llm.reply(answer)

    result = stack.chat("stream please", stream=True)

    assert result.status == 200, result.body
    assert result.headers["content-type"].startswith("text/event-stream")
    events = result.events()
    assert events[-1] == "[DONE]"
    deltas = [event for event in events[:-1] if event["choices"] and event["choices"][0]["delta"]]
    assert len(deltas) > 2
    assert result.text() == answer


def test_the_user_field_keeps_one_session_across_turns(stack: StackHandle) -> None:
    """The second turn of a session carries the first turn's message to the model."""
    session, first = stack.new_session(), canary()
    assert stack.chat(f"remember {first}", session=session).status == 200
    stack.llm.clear()

    assert stack.chat("what did I ask you to remember?", session=session).status == 200

    assert any(first in request.text() for request in stack.llm.requests)


def test_without_a_model_the_client_is_told_how_to_configure_one(stack: StackHandle) -> None:
    """`up` with no MODEL_BASE_URL still serves; a chat gets a 400 naming the settings to set."""
    with stack.reconfigured(MODEL_BASE_URL=None, MODEL_API_KEY=None):
        result = stack.chat("hello")
        streamed = stack.chat("hello", stream=True)

    assert result.status == 400, result.body
    assert NOT_CONFIGURED in result.json()["error"]["message"]
    assert "MODEL_BASE_URL" in result.json()["error"]["message"]
    errors = [
        event["error"]
        for event in streamed.events()
        if isinstance(event, dict) and "error" in event
    ]
    assert errors and NOT_CONFIGURED in errors[0]["message"]
    assert not stack.llm.requests, "the fake model was called although none was configured"
