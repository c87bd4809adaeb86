"""Fake Telegram Bot API and WhatsApp Cloud (Graph) API servers that record every call and
answer in the platforms' real formats, plus builders for the webhook deliveries the platforms
send (a Telegram `Update`, a WhatsApp notification with its `X-Hub-Signature-256`).

Each server runs on 127.0.0.1 on a free port in its own thread. `fail_next(status, times,
retry_after)` makes the next calls fail the way the platform does when it is overloaded
(Telegram: `{"ok": false, "error_code": 429, ..., "parameters": {"retry_after": N}}`; Graph:
an `error` object, with a `Retry-After` header when given).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from openclaw_secure_stack.proxy.testing import serve_in_thread

TELEGRAM_TOKEN = "123456:fake-bot-token-for-tests"
TELEGRAM_SECRET = "fake-webhook-secret_0123"
GRAPH_TOKEN = "fake-graph-access-token"
APP_SECRET = "fake-meta-app-secret-0123"
VERIFY_TOKEN = "fake-verify-token-0123"
PHONE_NUMBER_ID = "106540352242922"
GRAPH_VERSION = "v23.0"
TEXT_LIMIT = 4096


@dataclass(frozen=True)
class ApiCall:
    """One call as the fake received it; `at` is `time.monotonic()` on arrival."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float


@dataclass
class _Failure:
    status: int
    times: int
    retry_after: int | None


@dataclass
class FakeApi:
    calls: list[ApiCall] = field(default_factory=list)
    port: int = 0
    _failures: list[_Failure] = field(default_factory=list)
    _loop: asyncio.AbstractEventLoop | None = None
    _runner: web.BaseRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail_next(self, status: int, times: int = 1, retry_after: int | None = None) -> None:
        self._failures.append(_Failure(status, times, retry_after))

    def clear(self) -> None:
        self.calls.clear()
        self._failures.clear()

    def start(self) -> FakeApi:
        self._loop, self._runner, self.port = serve_in_thread(
            lambda: web.ServerRunner(web.Server(self._handle)), type(self).__name__
        )
        return self

    def stop(self) -> None:
        if self._loop is None or self._runner is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
        with contextlib.suppress(Exception):
            future.result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {"unparsable": raw.decode("latin-1")}
        self.calls.append(
            ApiCall(
                request.path,
                {k.lower(): v for k, v in request.headers.items()},
                body,
                time.monotonic(),
            )
        )
        if self._failures:
            failure = self._failures[0]
            failure.times -= 1
            if failure.times <= 0:
                self._failures.pop(0)
            return self.failure(failure)
        return self.answer(request, body)

    def failure(self, failure: _Failure) -> web.Response:
        raise NotImplementedError

    def answer(self, request: web.BaseRequest, body: dict[str, Any]) -> web.Response:
        raise NotImplementedError


@dataclass
class FakeTelegram(FakeApi):
    """`POST /bot<token>/<method>`: sendMessage (1-4096 characters), setWebhook,
    answerCallbackQuery; a wrong token is 401 as on the real Bot API."""

    token: str = TELEGRAM_TOKEN
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def texts(self, chat: int | str | None = None) -> list[str]:
        """Texts sent with sendMessage (to `chat`), in order."""
        return [
            str(call.body.get("text"))
            for call in self.calls
            if call.path.endswith("/sendMessage")
            and (chat is None or str(call.body.get("chat_id")) == str(chat))
        ]

    def failure(self, failure: _Failure) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": failure.status}
        if failure.status == 429:
            wait = failure.retry_after or 1
            body["description"] = f"Too Many Requests: retry after {wait}"
            body["parameters"] = {"retry_after": wait}
        else:
            body["description"] = "Internal Server Error"
        return web.json_response(body, status=failure.status)

    def answer(self, request: web.BaseRequest, body: dict[str, Any]) -> web.Response:
        prefix = f"/bot{self.token}/"
        if not request.path.startswith(prefix):
            return _telegram_error(401, "Unauthorized")
        method = request.path[len(prefix) :]
        if method == "sendMessage":
            text = body.get("text")
            if not isinstance(text, str) or not text:
                return _telegram_error(400, "Bad Request: message text is empty")
            if len(text.encode("utf-16-le")) // 2 > TEXT_LIMIT:
                return _telegram_error(400, "Bad Request: message is too long")
            chat = body.get("chat_id")
            result = {
                "message_id": next(self._ids),
                "date": int(time.time()),
                "chat": {"id": chat, "type": "private"},
                "text": text,
            }
            return web.json_response({"ok": True, "result": result})
        if method == "setWebhook":
            return web.json_response({"ok": True, "result": True, "description": "Webhook was set"})
        if method == "answerCallbackQuery":
            return web.json_response({"ok": True, "result": True})
        return _telegram_error(404, "Not Found")


def _telegram_error(status: int, description: str) -> web.Response:
    return web.json_response(
        {"ok": False, "error_code": status, "description": description}, status=status
    )


@dataclass
class FakeGraph(FakeApi):
    """`POST /<version>/<phone-number-id>/messages` with a Bearer token: `text` messages and
    `interactive` reply-button messages."""

    token: str = GRAPH_TOKEN
    phone_number_id: str = PHONE_NUMBER_ID

    @property
    def api_url(self) -> str:
        return f"{self.url}/{GRAPH_VERSION}"

    def texts(self, to: str | None = None) -> list[str]:
        """Bodies of the text messages sent (to `to`), in order."""
        return [
            str(call.body.get("text", {}).get("body"))
            for call in self.calls
            if call.path.endswith("/messages")
            and call.body.get("type") == "text"
            and (to is None or call.body.get("to") == to)
        ]

    def failure(self, failure: _Failure) -> web.Response:
        code = 130429 if failure.status == 429 else 1
        error = {
            "message": "(#130429) Rate limit hit"
            if code == 130429
            else "An unknown error occurred",
            "type": "OAuthException",
            "code": code,
            "fbtrace_id": "AbCdEf",
        }
        headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after else {}
        return web.json_response({"error": error}, status=failure.status, headers=headers)

    def answer(self, request: web.BaseRequest, body: dict[str, Any]) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            error = {
                "message": "Invalid OAuth access token.",
                "type": "OAuthException",
                "code": 190,
            }
            return web.json_response({"error": error}, status=401)
        if request.path != f"/{GRAPH_VERSION}/{self.phone_number_id}/messages":
            error = {
                "message": "Unsupported post request.",
                "type": "GraphMethodException",
                "code": 100,
            }
            return web.json_response({"error": error}, status=400)
        kind = body.get("type")
        part = (
            body.get("interactive", {}).get("body") if kind == "interactive" else body.get("text")
        )
        text = part.get("body" if kind == "text" else "text") if isinstance(part, dict) else None
        if body.get("messaging_product") != "whatsapp" or not isinstance(text, str) or not text:
            error = {"message": "(#100) Invalid parameter", "type": "OAuthException", "code": 100}
            return web.json_response({"error": error}, status=400)
        to = body.get("to")
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": to}],
                "messages": [{"id": f"wamid.{len(self.calls):08d}"}],
            }
        )


# --- what the platforms send ------------------------------------------------------------------


def telegram_update(
    update_id: int, text: str | None = "hello", *, sender: int = 1001, chat: int | None = None
) -> dict[str, Any]:
    """A Bot API `Update` with a text message (`text=None`: a photo without caption)."""
    message: dict[str, Any] = {
        "message_id": update_id,
        "from": {"id": sender, "is_bot": False, "first_name": "Ada"},
        "chat": {
            "id": sender if chat is None else chat,
            "type": "private" if chat is None else "group",
        },
        "date": 1_700_000_000,
    }
    if text is None:
        message["photo"] = [
            {"file_id": "AgAD", "file_unique_id": "AQAD", "width": 90, "height": 90}
        ]
    else:
        message["text"] = text
    return {"update_id": update_id, "message": message}


def telegram_headers(secret: str = TELEGRAM_SECRET) -> list[tuple[str, str]]:
    return [("content-type", "application/json"), ("x-telegram-bot-api-secret-token", secret)]


def whatsapp_message(
    message_id: str, text: str | None = "hello", *, sender: str = "4915550001"
) -> dict[str, Any]:
    """One entry of `messages[]`: text, or an image when `text` is None."""
    message: dict[str, Any] = {"from": sender, "id": message_id, "timestamp": "1700000000"}
    if text is None:
        message.update(type="image", image={"mime_type": "image/jpeg", "sha256": "abc", "id": "1"})
    else:
        message.update(type="text", text={"body": text})
    return message


def whatsapp_notification(
    messages: Sequence[dict[str, Any]] = (),
    statuses: Sequence[dict[str, Any]] = (),
    *,
    phone_number_id: str = PHONE_NUMBER_ID,
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001234", "phone_number_id": phone_number_id},
    }
    if messages:
        senders = {message["from"] for message in messages}
        value["contacts"] = [{"profile": {"name": "Ada"}, "wa_id": s} for s in sorted(senders)]
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = list(statuses)
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}],
    }


def telegram_press(update_id: int, data: str, *, sender: int = 1001) -> dict[str, Any]:
    """A `callback_query` update: `sender` pressed the inline button carrying `data`."""
    query = {
        "id": f"cb-{update_id}",
        "from": {"id": sender, "is_bot": False, "first_name": "Ada"},
        "message": {"message_id": 1, "chat": {"id": sender, "type": "private"}, "date": 0},
        "chat_instance": "42",
        "data": data,
    }
    return {"update_id": update_id, "callback_query": query}


def whatsapp_press(
    message_id: str, button_id: str, *, sender: str = "4915550001"
) -> dict[str, Any]:
    """One `messages[]` entry: `sender` pressed the reply button with id `button_id`."""
    reply = {"type": "button_reply", "button_reply": {"id": button_id, "title": "Approve"}}
    return {
        "from": sender,
        "id": message_id,
        "timestamp": "1700000000",
        "type": "interactive",
        "interactive": reply,
    }


def whatsapp_status(message_id: str, status: str = "delivered") -> dict[str, Any]:
    return {
        "id": message_id,
        "status": status,
        "timestamp": "1700000001",
        "recipient_id": "4915550001",
    }


def whatsapp_headers(body: bytes, secret: str = APP_SECRET) -> list[tuple[str, str]]:
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return [("content-type", "application/json"), ("x-hub-signature-256", f"sha256={signature}")]


def encoded(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()
