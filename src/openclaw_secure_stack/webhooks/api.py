"""Replies through the platforms' HTTP APIs, with retries: Telegram `sendMessage` (and
`setWebhook`, `answerCallbackQuery`) and the WhatsApp Cloud API's `/<phone-number-id>/messages`.

A 429 or 5xx answer, a timeout or a broken connection is retried, up to `attempts` in all:
after the wait the platform asked for (Telegram's `parameters.retry_after`, else a `Retry-After`
header) or else an exponential backoff (0.5 s, 1 s, 2 s, ...), never longer than `max_wait`; a
platform that asks for a longer wait gets no retry (`ApiError`). Other 4xx answers are final.
The bot token is part of Telegram's URLs: no URL ever goes into an error message or log.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import aiohttp

from openclaw_secure_stack.http_client import pooled_session

log = logging.getLogger(__name__)

TEXT_LIMIT = 4096  # Telegram sendMessage and WhatsApp text bodies, in UTF-16 units to be safe
REQUEST_SECONDS = 30.0
Sleep = Callable[[float], Awaitable[None]]


class ApiError(Exception):
    """The platform did not take the call; the message is audit-safe (no URL, no token)."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int
    max_wait: float
    base_wait: float = 0.5

    def wait(self, attempt: int, asked: float | None) -> float | None:
        """Seconds before attempt `attempt + 1` (attempt counts from 1), or None: give up."""
        if attempt >= self.attempts:
            return None
        if asked is not None:
            return asked if asked <= self.max_wait else None
        backoff: float = self.base_wait * 2.0 ** (attempt - 1)
        return min(self.max_wait, backoff)


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """`text` in pieces of at most `limit` UTF-16 code units, cut at the last newline or space
    of a piece when there is one in its second half, never inside a surrogate pair."""
    pieces: list[str] = []
    rest = text
    while rest:
        units = 0
        end = 0
        for char in rest:
            size = 2 if ord(char) > 0xFFFF else 1
            if units + size > limit:
                break
            units += size
            end += 1
        if end < len(rest):
            cut = max(rest.rfind("\n", 0, end), rest.rfind(" ", 0, end))
            if cut > end // 2:
                end = cut + 1
        pieces.append(rest[:end])
        rest = rest[end:]
    return pieces or [""]


def _retry_after(status: int, headers: Mapping[str, str], body: object) -> float | None:
    parameters = body.get("parameters") if isinstance(body, dict) else None
    asked = parameters.get("retry_after") if isinstance(parameters, dict) else None
    if isinstance(asked, int | float) and not isinstance(asked, bool) and asked >= 0:
        return float(asked)
    header = headers.get("Retry-After", "")
    if status in (429, 503) and header.isdecimal():
        return float(header)
    return None


class PlatformHttp:
    """POSTs JSON with the retry policy, over one pooled session created on first use."""

    def __init__(self, policy: RetryPolicy, sleep: Sleep = asyncio.sleep) -> None:
        self._policy = policy
        self._sleep = sleep
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = pooled_session(
                connect_timeout=10.0, read_timeout=REQUEST_SECONDS, passthrough=False
            )
        return self._session

    async def post(
        self, url: str, payload: Mapping[str, object], headers: Mapping[str, str], what: str
    ) -> dict[str, object]:
        """The JSON answer of a 2xx; `what` names the call in errors (never the URL)."""
        attempt = 0
        while True:
            attempt += 1
            status, asked, problem = 0, None, ""
            try:
                async with (
                    asyncio.timeout(REQUEST_SECONDS),
                    self.session.post(url, json=payload, headers=headers) as response,
                ):
                    status = response.status
                    text = await response.text(errors="replace")
                    try:
                        body: object = json.loads(text)
                    except ValueError:
                        body = None
                    if 200 <= status < 300:
                        return body if isinstance(body, dict) else {}
                    asked = _retry_after(status, response.headers, body)
                    problem = f"{what} answered {status}"
                    if status != 429 and status < 500:
                        raise ApiError(f"{problem}: {_description(body)}")
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                problem = f"{what} failed: {type(exc).__name__}"
            wait = self._policy.wait(attempt, asked)
            if wait is None:
                raise ApiError(f"{problem} (attempt {attempt}, gave up)")
            log.info("%s; retrying in %.1f s", problem, wait)
            await self._sleep(wait)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _description(body: object) -> str:
    """The platform's own short error text (Telegram `description`, Graph `error.message`)."""
    if isinstance(body, dict):
        error = body.get("error")
        text = body.get("description") or (error.get("message") if isinstance(error, dict) else "")
        return str(text)[:200]
    return "no JSON error"


class TelegramApi:
    def __init__(self, http: PlatformHttp, api_url: str, bot_token: str) -> None:
        self._http = http
        self._base = f"{api_url}/bot{bot_token}"

    async def call(self, method: str, payload: Mapping[str, object]) -> dict[str, object]:
        return await self._http.post(f"{self._base}/{method}", payload, {}, f"Telegram {method}")

    async def send_text(self, chat: str, text: str) -> int:
        """Send `text` in as many messages as the 4096 limit needs; returns how many."""
        pieces = split_text(text)
        for piece in pieces:
            await self.call("sendMessage", {"chat_id": int(chat), "text": piece})
        return len(pieces)


class WhatsAppApi:
    def __init__(
        self, http: PlatformHttp, api_url: str, phone_number_id: str, access_token: str
    ) -> None:
        self._http = http
        self._url = f"{api_url}/{phone_number_id}/messages"
        self._headers = {"Authorization": f"Bearer {access_token}"}

    async def send_buttons(self, chat: str, text: str, buttons: list[tuple[str, str]]) -> None:
        """An interactive message with reply buttons (WhatsApp: body up to 1024 characters,
        button titles up to 20)."""
        payload = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": chat,
            "type": "interactive",
            "interactive": {
                "type": "button",
                "body": {"text": text[:1024]},
                "action": {
                    "buttons": [
                        {"type": "reply", "reply": {"id": data, "title": label[:20]}}
                        for label, data in buttons
                    ]
                },
            },
        }
        await self._http.post(self._url, payload, self._headers, "WhatsApp messages")

    async def send_text(self, chat: str, text: str) -> int:
        pieces = split_text(text)
        for piece in pieces:
            payload = {
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": chat,
                "type": "text",
                "text": {"body": piece},
            }
            await self._http.post(self._url, payload, self._headers, "WhatsApp messages")
        return len(pieces)
