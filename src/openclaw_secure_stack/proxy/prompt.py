"""The text the pinned OpenClaw (2026.9.6) builds from a chat request, mirrored in Python.

`chat_texts` follows `buildAgentPrompt` in `dist/openai-http-*.mjs` (`/v1/chat/completions`,
with its `extractTextContent` and `extractAssistantToolCalls`); `responses_texts` follows
`buildAgentPrompt` in `dist/openresponses-http-*.mjs` (`/v1/responses`). Both end in
`buildAgentMessageFromConversationEntries` (`dist/openai-tool-choice-*.mjs`) and
`buildHistoryContext` (`dist/history-*.mjs`): every client turn (user, assistant, tool result)
goes into ONE message for the model, `Sender: body` lines under a history marker, and
`system`/`developer` turns (and `instructions`) go into OpenClaw's system prompt.

Each result is a `Scanned` text exactly as OpenClaw will hand it on, built as a `Rope` whose
characters remember the JSON string of the body they came from (a `Field`), so a rule that
fires on the joined text (a phrase split over two content parts) can be cut out of the body's
own strings. Text OpenClaw adds itself (labels, separators) belongs to no field.

What is scanned, and how (rules: the direct or indirect family; classifier: the learned model):
- the prompt message (user and assistant turns, assistant `tool_calls` as OpenClaw renders
  them, tool and function results; `/v1/responses`: messages, `function_call`,
  `function_call_output`, or the `input` string): direct rules, on the whole joined text;
- each user turn alone: the classifier (it was trained on what people write);
- each tool / function result (`function_call_output`): indirect rules as well;
- the system text (`system`/`developer` turns, `instructions`): direct rules only (the
  classifier rejects ordinary system prompts such as "You are a helpful assistant...");
- `tools` (name, description, every string in `parameters`) and `response_format` (every
  string): direct rules only; the model reads them as instructions too.
Refused with 400 (a client of the stack has no business sending them, or the proxy cannot see
what OpenClaw would make of them): a role outside OpenClaw's list (after its JavaScript `trim()`),
a content part or item type not listed below, `input_file` parts (OpenClaw fetches or decodes
the file itself), `reasoning` and `item_reference` items.
Content parts read: `/v1/chat/completions` `text`/`input_text` (`text`, else a string
`input_text` field, on any part type, as OpenClaw does) and `image_url`; `/v1/responses`
`input_text`/`output_text` and `input_image`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from openclaw_secure_stack.proxy.flow import Reject

# JavaScript's String.prototype.trim(): WhiteSpace and LineTerminator (checked against Node 24
# by tests/unit/proxy/test_prompt.py). Python's str.strip() differs: it keeps U+FEFF, strips
# U+001C-U+001F and U+0085.
JS_WHITESPACE = (
    "\t\n\v\f\r \xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)
HISTORY_MARKER = "[Chat messages since your last reply - for context]"
CURRENT_MARKER = "[Current message - respond to this]"
CHAT_ROLES = ("system", "developer", "user", "assistant", "tool", "function")
CHAT_PART_TYPES = ("text", "input_text", "image_url")
_CHAT_ENTRY_ROLE: dict[str, Literal["user", "assistant", "tool"]] = {
    "user": "user",
    "assistant": "assistant",
    "tool": "tool",
    "function": "tool",
}
RESPONSES_ROLES = ("system", "developer", "user", "assistant")
RESPONSES_PART_TYPES = ("input_text", "output_text", "input_image")
RESPONSES_ITEM_TYPES = ("message", "function_call", "function_call_output")

Kind = Literal["direct", "indirect", "classifier"]


def js_trim(text: str) -> str:
    return text.strip(JS_WHITESPACE)


@dataclass
class Field:
    """One JSON string of the request body, and how to replace it there."""

    where: str
    text: str
    put: Callable[[str], None]


@dataclass(frozen=True)
class Run:
    """A piece of text; from `field.text[offset:offset + len(text)]`, or OpenClaw's own."""

    text: str
    field: Field | None = None
    offset: int = 0


class Rope:
    """Text assembled from runs, keeping where each character came from."""

    __slots__ = ("runs",)

    def __init__(self, runs: Iterable[Run] = ()) -> None:
        self.runs = tuple(run for run in runs if run.text)

    @classmethod
    def literal(cls, text: str) -> Rope:
        return cls([Run(text)])

    @classmethod
    def of(cls, field: Field) -> Rope:
        return cls([Run(field.text, field)])

    @property
    def text(self) -> str:
        return "".join(run.text for run in self.runs)

    def __bool__(self) -> bool:
        return bool(self.runs)

    def __add__(self, other: Rope) -> Rope:
        return Rope(self.runs + other.runs)

    @classmethod
    def join(cls, separator: str, ropes: Iterable[Rope]) -> Rope:
        runs: list[Run] = []
        for index, rope in enumerate(ropes):
            if index:
                runs.append(Run(separator))
            runs.extend(rope.runs)
        return cls(runs)

    def slice(self, start: int, end: int) -> Rope:
        runs: list[Run] = []
        position = 0
        for run in self.runs:
            low, high = max(start, position), min(end, position + len(run.text))
            if low < high:
                cut = low - position
                runs.append(Run(run.text[cut : high - position], run.field, run.offset + cut))
            position += len(run.text)
        return Rope(runs)

    def trim(self) -> Rope:
        """JavaScript `trim()`, keeping the origin of what is left."""
        text = self.text
        lead = len(text) - len(text.lstrip(JS_WHITESPACE))
        return self.slice(lead, lead + len(js_trim(text)))

    def locate(self, start: int, end: int) -> Iterator[tuple[Field, int, int]]:
        """The fields (and ranges within them) that `text[start:end]` came from."""
        for run in self.slice(start, end).runs:
            if run.field is not None:
                yield run.field, run.offset, run.offset + len(run.text)


@dataclass(frozen=True)
class Scanned:
    """A text OpenClaw hands to the model, and how it is scanned (see the module docstring)."""

    name: Literal["prompt", "turn", "tool_result", "system", "tools", "response_format"]
    kind: Kind
    rope: Rope


def _invalid(where: str, message: str) -> Reject:
    return Reject(400, "invalid_body", f"{where}: {message}")


def _unsupported(where: str, message: str) -> Reject:
    return Reject(400, "unsupported_content", f"{where}: {message}")


def _field(container: Any, key: str | int, where: str) -> Field:
    def put(new: str) -> None:
        container[key] = new

    return Field(where, container[key], put)


def _string(container: dict[str, Any], key: str, where: str) -> Rope:
    """The string `container[key]` as a rope (400 if it is there but not a string)."""
    value = container.get(key)
    if value is None:
        return Rope()
    if not isinstance(value, str):
        raise _invalid(f"{where}.{key}", "must be a string")
    return Rope.of(_field(container, key, f"{where}.{key}"))


def _strings(value: object, where: str) -> Iterator[Rope]:
    """Every string in a JSON value (object keys as OpenClaw's own text: they are not cut)."""
    if isinstance(value, str):
        return
    if isinstance(value, dict):
        for key, item in value.items():
            yield Rope.literal(key)
            if isinstance(item, str):
                yield Rope.of(_field(value, key, f"{where}.{key}"))
            else:
                yield from _strings(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, str):
                yield Rope.of(_field(value, index, f"{where}[{index}]"))
            else:
                yield from _strings(item, f"{where}[{index}]")


def _items(document: dict[str, Any], key: str) -> list[Any]:
    items = document.get(key)
    if items is None:
        return []
    if not isinstance(items, list):
        raise _invalid(key, "must be a list")
    return items


def _object(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _invalid(where, "must be an object")
    return value


@dataclass(frozen=True)
class _Entry:
    role: Literal["user", "assistant", "tool"]
    sender: Rope
    body: Rope


def _message(entries: list[_Entry]) -> Rope:
    """`buildAgentMessageFromConversationEntries`: turns after the last user or tool turn are
    dropped; earlier ones become history lines before the current one."""
    if not entries:
        return Rope()
    current = next(
        (i for i in range(len(entries) - 1, -1, -1) if entries[i].role in ("user", "tool")),
        len(entries) - 1,
    )
    history = [entry.sender + Rope.literal(": ") + entry.body for entry in entries[:current]]
    last = entries[current]
    if not history and last.role != "tool":
        return last.body
    line = last.sender + Rope.literal(": ") + last.body
    history_text = Rope.join("\n", history)
    if not js_trim(history_text.text):
        return line
    marker, current_marker = Rope.literal(HISTORY_MARKER), Rope.literal(CURRENT_MARKER)
    return Rope.join("\n", [marker, history_text, Rope(), current_marker, line])


def _texts(entries: list[_Entry], system: Rope, extra: list[Scanned]) -> list[Scanned]:
    texts = [Scanned("prompt", "direct", _message(entries)), Scanned("system", "direct", system)]
    texts += [Scanned("turn", "classifier", e.body) for e in entries if e.role == "user"]
    texts += [Scanned("tool_result", "indirect", e.body) for e in entries if e.role == "tool"]
    return [text for text in texts + extra if text.rope]


# --- /v1/chat/completions ---------------------------------------------------------------------


def _chat_content(message: dict[str, Any], where: str) -> Rope | None:
    """`extractTextContent`: a string, or the text parts joined by newlines; None where
    OpenClaw's result is `undefined`."""
    content = message.get("content")
    if isinstance(content, str):
        return Rope.of(_field(message, "content", f"{where}.content"))
    if content is None:
        return None
    if not isinstance(content, list):
        raise _invalid(f"{where}.content", "must be a string or a list")
    parts: list[Rope | None] = []
    for index, part in enumerate(content):
        at = f"{where}.content[{index}]"
        if not isinstance(part, dict):
            raise _invalid(at, "must be an object")
        kind = part.get("type")
        if kind not in CHAT_PART_TYPES:
            raise _unsupported(at, f"part type {str(kind)[:40]!r} is not accepted")
        if kind in ("text", "input_text") and isinstance(part.get("text"), str):
            parts.append(Rope.of(_field(part, "text", f"{at}.text")))
        elif isinstance(part.get("input_text"), str):
            parts.append(Rope.of(_field(part, "input_text", f"{at}.input_text")))
        else:
            parts.append(None)
    joined = Rope.join("\n", [part for part in parts if part])
    return joined if js_trim(joined.text) or None not in parts else None


def _tool_calls(message: dict[str, Any], where: str) -> Rope:
    """`extractAssistantToolCalls` rendered by `renderConversationToolCall`, one per line."""
    calls = message.get("tool_calls")
    if not isinstance(calls, list):
        return Rope()
    rendered: list[Rope] = []
    for index, call in enumerate(calls):
        at = f"{where}.tool_calls[{index}]"
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            continue
        call_id = _trimmed(call, "id", at)
        name = _trimmed(function, "name", f"{at}.function")
        if not call_id or not name:
            continue
        arguments = function.get("arguments")
        if isinstance(arguments, str):
            args = Rope.of(_field(function, "arguments", f"{at}.function.arguments"))
        elif arguments is None:
            args = Rope()
        else:
            # JSON.stringify of a structure: not one string of the body, so never cut.
            args = Rope.literal(json.dumps(arguments, ensure_ascii=False, separators=(",", ":")))
        parts = [Rope.literal("tool_call id="), call_id, Rope.literal(" name="), name]
        rendered.append(Rope.join("", [*parts, Rope.literal(" arguments="), args]))
    return Rope.join("\n", rendered)


def _trimmed(container: dict[str, Any], key: str, where: str) -> Rope:
    """`normalizeOptionalString`: a string, JavaScript-trimmed; nothing for other types."""
    value = container.get(key)
    if not isinstance(value, str):
        return Rope()
    return Rope.of(_field(container, key, f"{where}.{key}")).trim()


def chat_texts(document: dict[str, Any]) -> list[Scanned]:
    """What OpenClaw builds from a `/v1/chat/completions` body (see the module docstring)."""
    system: list[Rope] = []
    entries: list[_Entry] = []
    for index, item in enumerate(_items(document, "messages")):
        where = f"messages[{index}]"
        message = _object(item, where)
        role = js_trim(message["role"]) if isinstance(message.get("role"), str) else ""
        if role not in CHAT_ROLES:
            raise Reject(
                400, "unsupported_role", f"{where}: role must be one of {', '.join(CHAT_ROLES)}"
            )
        raw = message.get("content")
        content = Rope() if role == "function" and raw is None else _chat_content(message, where)
        content = content.trim() if content is not None else None
        if role in ("system", "developer"):
            if content:
                system.append(content)
            continue
        normalized = _CHAT_ENTRY_ROLE[role]
        calls = _tool_calls(message, where) if normalized == "assistant" else Rope()
        body = Rope.join("\n", [part for part in (content, calls) if part])
        name, call_id = _trimmed(message, "name", where), _trimmed(message, "tool_call_id", where)
        tool_result = (
            normalized == "tool"
            and bool(name if role == "function" else call_id)
            and content is not None
            and (role != "function" or raw is None or isinstance(raw, str))
        )
        if not body and not tool_result:
            continue
        if normalized == "tool":
            label = call_id or name
            sender = Rope.literal("Tool:") + label if label else Rope.literal("Tool")
        else:
            sender = Rope.literal(normalized.capitalize())
        entries.append(_Entry(normalized, sender, body))
    extra = [Scanned("tools", "direct", _chat_tool(t, i)) for i, t in _enumerate(document, "tools")]
    response_format = document.get("response_format")
    formats = Rope.join("\n", _strings(response_format, "response_format"))
    extra.append(Scanned("response_format", "direct", formats))
    return _texts(entries, Rope.join("\n\n", system), extra)


def _enumerate(document: dict[str, Any], key: str) -> Iterator[tuple[int, dict[str, Any]]]:
    for index, item in enumerate(_items(document, key)):
        yield index, _object(item, f"{key}[{index}]")


def _chat_tool(tool: dict[str, Any], index: int) -> Rope:
    """`extractClientToolsFromChatRequest`: name, description and parameters reach the model."""
    where = f"tools[{index}]"
    if tool.get("type") != "function":
        raise _unsupported(where, "only function tools are accepted")
    function = _object(tool.get("function"), f"{where}.function")
    at = f"{where}.function"
    if not isinstance(function.get("name"), str):
        raise _invalid(f"{at}.name", "must be a string")
    description = function.get("description")
    described = _string(function, "description", at) if isinstance(description, str) else Rope()
    parameters = list(_strings(function.get("parameters"), f"{at}.parameters"))
    return Rope.join("\n", [_trimmed(function, "name", at), described, *parameters])


# --- /v1/responses ----------------------------------------------------------------------------


def _responses_content(item: dict[str, Any], where: str) -> Rope:
    """`extractTextContent` of openresponses: text parts joined by newlines, then trimmed."""
    content = item.get("content")
    if isinstance(content, str):
        return Rope.of(_field(item, "content", f"{where}.content")).trim()
    if not isinstance(content, list):
        raise _invalid(f"{where}.content", "must be a string or a list")
    parts: list[Rope] = []
    for index, part in enumerate(content):
        at = f"{where}.content[{index}]"
        kind = _object(part, at).get("type")
        if kind not in RESPONSES_PART_TYPES:
            raise _unsupported(at, f"part type {str(kind)[:40]!r} is not accepted")
        if kind != "input_image":
            parts.append(_required(part, "text", at))
    return Rope.join("\n", [part for part in parts if part]).trim()


def _required(container: dict[str, Any], key: str, where: str) -> Rope:
    if not isinstance(container.get(key), str):
        raise _invalid(f"{where}.{key}", "must be a string")
    return Rope.of(_field(container, key, f"{where}.{key}"))


def responses_texts(document: dict[str, Any]) -> list[Scanned]:
    """What OpenClaw builds from a `/v1/responses` body (see the module docstring)."""
    tools = [
        Scanned("tools", "direct", _responses_tool(t, i)) for i, t in _enumerate(document, "tools")
    ]
    instructions = _string(document, "instructions", "body")
    if isinstance(document.get("input"), str):
        prompt = _required(document, "input", "body")
        entries = [_Entry("user", Rope.literal("User"), prompt)]
        return _texts(entries, instructions, tools)
    system: list[Rope] = []
    entries = []
    for index, raw in enumerate(_items(document, "input")):
        where = f"input[{index}]"
        item = _object(raw, where)
        kind = item.get("type")
        if kind not in RESPONSES_ITEM_TYPES:
            raise _unsupported(where, f"item type {str(kind)[:40]!r} is not accepted")
        if kind == "function_call":
            call_id = item.get("call_id")
            id_rope = _required(item, "call_id" if call_id is not None else "id", where)
            name, arguments = _required(item, "name", where), _required(item, "arguments", where)
            parts = [Rope.literal("tool_call id="), id_rope, Rope.literal(" name="), name]
            body = Rope.join("", [*parts, Rope.literal(" arguments="), arguments])
            entries.append(_Entry("assistant", Rope.literal("Assistant"), body))
        elif kind == "function_call_output":
            sender = Rope.literal("Tool:") + _required(item, "call_id", where)
            entries.append(_Entry("tool", sender, _required(item, "output", where)))
        else:
            role = item.get("role")
            if role not in RESPONSES_ROLES:
                raise Reject(
                    400,
                    "unsupported_role",
                    f"{where}: role must be one of {', '.join(RESPONSES_ROLES)}",
                )
            body = _responses_content(item, where)
            if not body:
                continue
            if role in ("system", "developer"):
                system.append(body)
            elif role == "assistant":
                entries.append(_Entry("assistant", Rope.literal("Assistant"), body))
            else:
                entries.append(_Entry("user", Rope.literal("User"), body))
    system_text = Rope.join("\n\n", [part for part in (instructions, *system) if part])
    return _texts(entries, system_text, tools)


def _responses_tool(tool: dict[str, Any], index: int) -> Rope:
    where = f"tools[{index}]"
    if tool.get("type") != "function":
        raise _unsupported(where, "only function tools are accepted")
    name, description = _required(tool, "name", where), _string(tool, "description", where)
    parameters = list(_strings(tool.get("parameters"), f"{where}.parameters"))
    return Rope.join("\n", [name, description, *parameters])
