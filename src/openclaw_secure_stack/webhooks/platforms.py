"""The two platforms behind one small protocol: where their webhook is, how big a delivery may
be, how it is signed, how it is read, who may talk to the agent, and how a reply is sent.

- Telegram: `X-Telegram-Bot-Api-Secret-Token` equals the secret given to `setWebhook`
  (constant-time comparison; Telegram has no body signature). Deliveries up to 1 MB.
- WhatsApp: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>`, checked on the
  raw bytes before anything parses them; the subscription handshake is a GET echoing
  `hub.challenge` when `hub.verify_token` matches. Deliveries up to 3 MB.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator
from typing import ClassVar, Protocol
from urllib.parse import parse_qsl

from openclaw_secure_stack.proxy.flow import Headers, Response
from openclaw_secure_stack.settings import TelegramConfig, WhatsAppConfig
from openclaw_secure_stack.webhooks.api import PlatformHttp, TelegramApi, WhatsAppApi
from openclaw_secure_stack.webhooks.messages import Inbound, telegram_inbound, whatsapp_inbound

TELEGRAM_PATH = "/webhook/telegram"
WHATSAPP_PATH = "/webhook/whatsapp"
MB = 1024 * 1024


class Platform(Protocol):
    name: ClassVar[str]
    path: ClassVar[str]
    methods: ClassVar[str]  # the Allow header of a 405
    max_body: ClassVar[int]

    def verified(self, headers: Headers, raw: bytes) -> bool:
        """Whether the delivery comes from the platform (checked before parsing)."""

    def handshake(self, query: str) -> Response | None:
        """The answer to a GET on the webhook, or None if the platform has none (405)."""

    def inbound(self, document: object) -> list[Inbound]:
        """What the delivery holds; raises `Malformed` for a document that is not one."""

    def allowed(self, message: Inbound) -> bool:
        """Whether this sender, in this chat, may reach the agent."""

    async def send_text(self, chat: str, text: str) -> int:
        """Send a reply (split as the platform needs); returns how many messages it took."""

    async def send_buttons(self, chat: str, text: str, buttons: list[tuple[str, str]]) -> None:
        """Send `text` with one button per (label, data) pair; a press comes back as data."""

    async def acknowledge(self, press: Inbound, note: str) -> int:
        """Answer a button press with `note`; returns how many messages it took."""


def _same(presented: str | None, expected: str) -> bool:
    return presented is not None and hmac.compare_digest(
        presented.encode("utf-8", "surrogateescape"), expected.encode()
    )


class Telegram:
    name: ClassVar[str] = "telegram"
    path: ClassVar[str] = TELEGRAM_PATH
    methods: ClassVar[str] = "POST"
    max_body: ClassVar[int] = 1 * MB

    def __init__(self, config: TelegramConfig, http: PlatformHttp) -> None:
        self._config = config
        self.api = TelegramApi(http, config.api_url, config.bot_token)

    def verified(self, headers: Headers, raw: bytes) -> bool:
        values = headers.get_all("x-telegram-bot-api-secret-token")
        return len(values) == 1 and _same(values[0], self._config.secret)

    def handshake(self, query: str) -> Response | None:
        return None

    def inbound(self, document: object) -> list[Inbound]:
        return telegram_inbound(document)

    def allowed(self, message: Inbound) -> bool:
        sender, chat = message.sender, message.chat
        if sender is None or chat is None or sender not in self._config.allowed_users:
            return False
        return chat == sender or chat in self._config.allowed_chats

    async def send_text(self, chat: str, text: str) -> int:
        return await self.api.send_text(chat, text)

    async def send_buttons(self, chat: str, text: str, buttons: list[tuple[str, str]]) -> None:
        keyboard = [[{"text": label, "callback_data": data} for label, data in buttons]]
        payload = {
            "chat_id": int(chat),
            "text": text,
            "reply_markup": {"inline_keyboard": keyboard},
        }
        await self.api.call("sendMessage", payload)

    async def acknowledge(self, press: Inbound, note: str) -> int:
        # answerCallbackQuery stops the button's spinner and shows the note to the presser.
        await self.api.call(
            "answerCallbackQuery", {"callback_query_id": press.detail, "text": note}
        )
        return 1


class WhatsApp:
    name: ClassVar[str] = "whatsapp"
    path: ClassVar[str] = WHATSAPP_PATH
    methods: ClassVar[str] = "GET, POST"
    max_body: ClassVar[int] = 3 * MB

    def __init__(self, config: WhatsAppConfig, http: PlatformHttp) -> None:
        self._config = config
        self.api = WhatsAppApi(http, config.api_url, config.phone_number_id, config.access_token)

    def verified(self, headers: Headers, raw: bytes) -> bool:
        values = headers.get_all("x-hub-signature-256")
        if len(values) != 1 or not values[0].startswith("sha256="):
            return False
        expected = hmac.new(self._config.app_secret.encode(), raw, hashlib.sha256).hexdigest()
        return _same(values[0].removeprefix("sha256=").lower(), expected)

    def handshake(self, query: str) -> Response | None:
        params = dict(parse_qsl(query, keep_blank_values=True))
        challenge = params.get("hub.challenge", "")
        if (
            params.get("hub.mode") == "subscribe"
            and _same(params.get("hub.verify_token"), self._config.verify_token)
            and challenge.isascii()
            and challenge.isalnum()
            and len(challenge) <= 128
        ):
            content = challenge.encode()
            headers = Headers(
                [("content-type", "text/plain"), ("content-length", str(len(content)))]
            )
            return Response(200, headers, _once(content))
        return Response.error(403, "verification_failed", "hub.verify_token does not match")

    def inbound(self, document: object) -> list[Inbound]:
        return whatsapp_inbound(document, self._config.phone_number_id)

    def allowed(self, message: Inbound) -> bool:
        return message.sender is not None and message.sender in self._config.allowed_numbers

    async def send_text(self, chat: str, text: str) -> int:
        return await self.api.send_text(chat, text)

    async def send_buttons(self, chat: str, text: str, buttons: list[tuple[str, str]]) -> None:
        await self.api.send_buttons(chat, text, buttons)

    async def acknowledge(self, press: Inbound, note: str) -> int:
        if press.chat is None:
            raise ValueError("a press without a chat cannot be answered")
        return await self.api.send_text(press.chat, note)


async def _once(content: bytes) -> AsyncIterator[bytes]:
    yield content
