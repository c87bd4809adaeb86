"""Anthropic's Messages API behind the OpenAI-compatible gateway, translated both ways.

Request: `system`/`developer` messages become `system`; `tool` messages become `tool_result`
blocks in a user turn, merged with the user text that follows (OpenClaw appends an internal user
message after tool results; Anthropic wants alternating turns, tool results first); assistant
`tool_calls` become `tool_use` blocks; `tools`, `tool_choice` (`required` is `any`),
`parallel_tool_calls`, `max_tokens`, `temperature`, `top_p` and `stop` map to their equivalents.
Reply: the Messages SSE events (`message_start`, `content_block_start/delta/stop` with
`text_delta` and `input_json_delta`, `message_delta`, `message_stop`, `error`) become OpenAI
`chat.completion.chunk`s, stop reasons and usage included.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

from openclaw_secure_stack.model_gateway import codec
from openclaw_secure_stack.model_gateway.config import ProviderConfig
from openclaw_secure_stack.model_gateway.errors import GatewayError, invalid
from openclaw_secure_stack.model_gateway.providers.http import ProviderHTTP, provider_message
from openclaw_secure_stack.model_gateway.sse import Event

API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096
STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
_CHOICES: dict[str, dict[str, Any]] = {
    "auto": {"type": "auto"},
    "none": {"type": "none"},
    "required": {"type": "any"},
}


class AnthropicProvider:
    def __init__(self, config: ProviderConfig, http: ProviderHTTP) -> None:
        self._http = http
        self._model = config.model
        self._url = config.base_url.rstrip("/") + "/messages"
        self._headers = {
            "x-api-key": config.api_key,
            "anthropic-version": API_VERSION,
            "content-type": "application/json",
            "accept": "text/event-stream",
        }

    async def open(self, request: dict[str, Any]) -> AsyncIterator[list[dict[str, Any]]]:
        body = codec.dumps(messages_request(request, self._model))
        events = await self._http.stream(self._url, self._headers, body)
        return openai_chunks(events, self._model)

    async def close(self) -> None:
        await self._http.close()


def _text(content: object, where: str) -> str:
    """A system or tool message's content as one text (parts joined by newlines)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(part["text"]) for part in content if isinstance(part, dict) and "text" in part
        )
    raise invalid(f"{where}: content must be a string or a list of parts")


def _image(part: dict[str, Any], where: str) -> dict[str, Any]:
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, dict) else image
    if not isinstance(url, str):
        raise invalid(f"{where}: image_url needs a url")
    if url.startswith("data:"):
        header, _, data = url[5:].partition(",")
        media_type = header.split(";")[0]
        return {
            "type": "image",
            "source": {"type": "base64", "media_type": media_type, "data": data},
        }
    return {"type": "image", "source": {"type": "url", "url": url}}


def _blocks(content: object, where: str) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise invalid(f"{where}: content must be a string or a list of parts")
    blocks: list[dict[str, Any]] = []
    for number, part in enumerate(content):
        if not isinstance(part, dict):
            raise invalid(f"{where}: content[{number}] must be an object")
        kind = part.get("type", "text")
        if kind == "text":
            if part.get("text"):
                blocks.append({"type": "text", "text": str(part["text"])})
        elif kind == "image_url":
            blocks.append(_image(part, f"{where} content[{number}]"))
        elif kind == "tool_result":
            result = {"type": "tool_result", "tool_use_id": str(part.get("tool_use_id", ""))}
            blocks.append({**result, "content": _text(part.get("content"), where)})
        else:
            raise invalid(f"{where}: content part type {kind!r} is not supported")
    return blocks


def _tool_uses(calls: object, where: str) -> list[dict[str, Any]]:
    if calls is None:
        return []
    if not isinstance(calls, list):
        raise invalid(f"{where}: tool_calls must be a list")
    uses: list[dict[str, Any]] = []
    for call in calls:
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(call.get("id"), str):
            raise invalid(f"{where}: each tool call needs an id and a function")
        try:
            arguments = json.loads(function.get("arguments") or "{}")
        except (ValueError, TypeError):
            raise invalid(f"{where}: tool call arguments must be JSON") from None
        if not isinstance(arguments, dict):
            raise invalid(f"{where}: tool call arguments must be a JSON object")
        uses.append(
            {
                "type": "tool_use",
                "id": call["id"],
                "name": str(function.get("name")),
                "input": arguments,
            }
        )
    return uses


def _turns(messages: list[Any]) -> tuple[list[str], list[dict[str, Any]]]:
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        role = message.get("role")
        if role in ("system", "developer"):
            system.append(_text(message.get("content"), where))
            continue
        if role in ("tool", "function"):
            result = {
                "type": "tool_result",
                "tool_use_id": str(message.get("tool_call_id") or message.get("name")),
                "content": _text(message.get("content"), where),
            }
            role, blocks = "user", [result]
        elif role == "assistant":
            blocks = _blocks(message.get("content"), where)
            blocks += _tool_uses(message.get("tool_calls"), where)
        elif role == "user":
            blocks = _blocks(message.get("content"), where)
        else:
            raise invalid(f"{where}: role {role!r} is not supported")
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    return system, turns


def _tool_choice(choice: object, parallel: object) -> dict[str, Any] | None:
    if choice is None and parallel is None:
        return None
    result: dict[str, Any]
    if choice is None or isinstance(choice, str):
        mapped = _CHOICES.get(choice or "auto")
        if mapped is None:
            raise invalid(f"tool_choice {choice!r} is not supported")
        result = dict(mapped)
    elif isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        result = {"type": "tool", "name": str(choice["function"].get("name"))}
    else:
        raise invalid("tool_choice must be a string or {'type': 'function', 'function': {...}}")
    if parallel is False and result["type"] != "none":
        result["disable_parallel_tool_use"] = True
    return result


def _tools(tools: object) -> list[dict[str, Any]]:
    if not isinstance(tools, list):
        raise invalid("tools must be a list")
    translated: list[dict[str, Any]] = []
    for number, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise invalid(
                f"tools[{number}] must be {{'type': 'function', 'function': {{name, ...}}}}"
            )
        entry: dict[str, Any] = {
            "name": function["name"],
            "input_schema": function.get("parameters") or {"type": "object", "properties": {}},
        }
        if function.get("description"):
            entry["description"] = str(function["description"])
        translated.append(entry)
    return translated


def messages_request(request: dict[str, Any], model: str) -> dict[str, Any]:
    """The Messages API request for an (already validated) OpenAI chat request."""
    system, turns = _turns(request["messages"])
    max_tokens = request.get("max_completion_tokens") or request.get("max_tokens")
    body: dict[str, Any] = {
        "model": model,
        "messages": turns,
        "max_tokens": max_tokens if isinstance(max_tokens, int) else DEFAULT_MAX_TOKENS,
        "stream": True,
    }
    if system:
        body["system"] = "\n\n".join(text for text in system if text)
    if request.get("tools"):
        body["tools"] = _tools(request["tools"])
        choice = _tool_choice(request.get("tool_choice"), request.get("parallel_tool_calls"))
        if choice is not None:
            body["tool_choice"] = choice
    for name in ("temperature", "top_p"):
        if isinstance(request.get(name), int | float):
            body[name] = request[name]
    stop = request.get("stop")
    if stop:
        body["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    return body


class _Translator:
    """Anthropic stream events -> OpenAI chunks, one call's state."""

    def __init__(self, model: str) -> None:
        self.id = "chatcmpl-anthropic"
        self.model = model
        self.created = int(time.time())
        self.input_tokens = 0
        self.output_tokens = 0
        self.tool_index: dict[int, int] = {}

    def chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    def usage(self) -> dict[str, Any]:
        usage = {
            "prompt_tokens": self.input_tokens,
            "completion_tokens": self.output_tokens,
            "total_tokens": self.input_tokens + self.output_tokens,
        }
        return {**self.chunk({}), "choices": [], "usage": usage}

    def translate(self, kind: str, data: dict[str, Any]) -> list[dict[str, Any]]:
        if kind == "message_start":
            message = data.get("message") or {}
            self.id = f"chatcmpl-{message.get('id', 'anthropic')}"
            self.model = str(message.get("model") or self.model)
            usage = message.get("usage") or {}
            self.input_tokens = sum(
                int(usage.get(name) or 0)
                for name in (
                    "input_tokens",
                    "cache_read_input_tokens",
                    "cache_creation_input_tokens",
                )
            )
            self.output_tokens = int(usage.get("output_tokens") or 0)
            return [self.chunk({"role": "assistant", "content": ""})]
        if kind == "content_block_start":
            block = data.get("content_block") or {}
            if block.get("type") == "tool_use":
                index = self.tool_index.setdefault(int(data.get("index", 0)), len(self.tool_index))
                head = {
                    "index": index,
                    "id": str(block.get("id")),
                    "type": "function",
                    "function": {"name": str(block.get("name")), "arguments": ""},
                }
                return [self.chunk({"tool_calls": [head]})]
            if block.get("type") == "text" and block.get("text"):
                return [self.chunk({"content": str(block["text"])})]
            return []
        if kind == "content_block_delta":
            delta = data.get("delta") or {}
            if delta.get("type") == "text_delta":
                return [self.chunk({"content": str(delta.get("text", ""))})]
            if delta.get("type") == "input_json_delta":
                position = self.tool_index.get(int(data.get("index", 0)))
                if position is None:
                    raise GatewayError(502, "provider_invalid", "tool input for no tool_use block")
                piece = {
                    "index": position,
                    "function": {"arguments": str(delta.get("partial_json", ""))},
                }
                return [self.chunk({"tool_calls": [piece]})]
            return []
        if kind == "message_delta":
            usage = data.get("usage") or {}
            self.output_tokens = int(usage.get("output_tokens") or self.output_tokens)
            reason = (data.get("delta") or {}).get("stop_reason")
            return [self.chunk({}, STOP_REASONS.get(str(reason), "stop"))]
        if kind == "message_stop":
            return [self.usage()]
        if kind == "error":
            raise GatewayError(
                502,
                "provider_error",
                f"the model provider failed: {provider_message(json.dumps(data).encode())}",
            )
        return []


async def openai_chunks(
    batches: AsyncIterator[list[Event]], model: str
) -> AsyncIterator[list[dict[str, Any]]]:
    """Messages events, batched as they arrived, as batches of OpenAI chunks."""
    translator = _Translator(model)
    async for events in batches:
        chunks: list[dict[str, Any]] = []
        for event in events:
            kind, data = _parsed(event)
            chunks += translator.translate(kind, data)
            if kind == "message_stop":
                yield chunks
                return
        if chunks:
            yield chunks
    raise GatewayError(
        502, "provider_broken", "the model provider's reply ended before message_stop"
    )


def _parsed(event: Event) -> tuple[str, dict[str, Any]]:
    try:
        data = codec.loads(event.data) if event.data else {}
    except codec.InvalidJSON:
        raise GatewayError(502, "provider_invalid", "the model provider sent bad JSON") from None
    if not isinstance(data, dict):
        raise GatewayError(502, "provider_invalid", "the model provider sent a non-object")
    return (event.event if event.event != "message" else str(data.get("type", ""))), data
