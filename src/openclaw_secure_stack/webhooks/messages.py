"""What a platform delivered, read into one typed shape (`Inbound`); pure, no I/O.

Telegram (Bot API webhook): one update per delivery; `message.text` (else `caption`) from
`message.from.id` in `message.chat.id`, buttons as `callback_query`. WhatsApp (Cloud API
webhook): `entry[].changes[].value` with `metadata.phone_number_id`, `messages[]` (`from`, `id`,
`type`, `text.body`, `interactive.button_reply`) and `statuses[]`. A document that is not the
platform's envelope at all is `Malformed`; anything inside it that is not understood becomes an
`Inbound` of kind `other` (ignored and audited), never an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["text", "unsupported", "button", "status", "other"]
# Telegram message fields that carry something other than text, named in the audit record.
_TELEGRAM_MEDIA = (
    "photo",
    "video",
    "voice",
    "audio",
    "document",
    "sticker",
    "animation",
    "video_note",
    "location",
    "contact",
    "poll",
)


class Malformed(ValueError):
    """The document is not the platform's webhook envelope."""


@dataclass(frozen=True)
class Inbound:
    """One thing a platform told us. `id` is unique per platform (Telegram `update_id`, WhatsApp
    message id) and is the replay key; `chat` is where a reply goes; `detail` says what a
    non-text item was (media type, update type, button id, status)."""

    platform: str
    id: str
    kind: Kind
    sender: str | None = None
    chat: str | None = None
    text: str = ""
    detail: str = ""

    def audit(self) -> dict[str, object]:
        """The audit-safe summary: never the text."""
        summary: dict[str, object] = {"id": self.id, "kind": self.kind}
        for name, value in (("sender", self.sender), ("chat", self.chat), ("detail", self.detail)):
            if value:
                summary[name] = value
        if self.kind == "text":
            summary["chars"] = len(self.text)
        return summary


def _id(value: object) -> str | None:
    """A Telegram numeric id as text (bool is an int in Python, not in JSON: refused)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _dict(value: object) -> dict[str, object]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def telegram_inbound(document: object) -> list[Inbound]:
    """The update as one `Inbound`; `Malformed` without a numeric `update_id`."""
    update = _dict(document)
    update_id = _id(update.get("update_id"))
    if update_id is None:
        raise Malformed("a Telegram update needs a numeric update_id")
    if "callback_query" in update:
        query = _dict(update["callback_query"])
        return [
            Inbound(
                "telegram",
                update_id,
                "button",
                sender=_id(_dict(query.get("from")).get("id")),
                chat=_id(_dict(_dict(query.get("message")).get("chat")).get("id")),
                text=str(query.get("data", "")),
                detail=str(query.get("id", "")),
            )
        ]
    if "message" not in update:
        kinds = sorted(key for key in update if key != "update_id")
        return [Inbound("telegram", update_id, "other", detail=",".join(kinds)[:64] or "empty")]
    message = _dict(update["message"])
    sender = _id(_dict(message.get("from")).get("id"))
    chat = _id(_dict(message.get("chat")).get("id"))
    text = message.get("text", message.get("caption"))
    if isinstance(text, str) and text:
        return [Inbound("telegram", update_id, "text", sender, chat, text)]
    media = next((name for name in _TELEGRAM_MEDIA if name in message), "message")
    return [Inbound("telegram", update_id, "unsupported", sender, chat, detail=media)]


def whatsapp_inbound(document: object, phone_number_id: str) -> list[Inbound]:
    """Every message and status of the notification. Items for another phone number of the
    same app are `other` (`detail` names why): this relay answers for its own number only."""
    notification = _dict(document)
    entries = notification.get("entry")
    if not isinstance(entries, list):
        raise Malformed("a WhatsApp notification needs an entry list")
    found: list[Inbound] = []
    for entry in entries:
        for change in _list(_dict(entry).get("changes")):
            value = _dict(_dict(change).get("value"))
            number = _dict(value.get("metadata")).get("phone_number_id")
            mine = number == phone_number_id
            for position, item in enumerate(_list(value.get("statuses"))):
                status = _dict(item)
                key = f"status:{status.get('id')}:{status.get('status')}:{position}"
                found.append(Inbound("whatsapp", key, "status", detail=str(status.get("status"))))
            for position, item in enumerate(_list(value.get("messages"))):
                found.append(_whatsapp_message(_dict(item), position, mine))
    return found


def _whatsapp_message(message: dict[str, object], position: int, mine: bool) -> Inbound:
    message_id, sender = message.get("id"), message.get("from")
    if not (isinstance(message_id, str) and message_id and isinstance(sender, str) and sender):
        return Inbound("whatsapp", f"unreadable:{position}", "other", detail="unreadable")
    if not mine:
        return Inbound("whatsapp", message_id, "other", sender, sender, detail="other_number")
    kind = message.get("type")
    if kind == "text":
        body = _dict(message.get("text")).get("body")
        if isinstance(body, str) and body:
            return Inbound("whatsapp", message_id, "text", sender, sender, body)
    if kind == "interactive":
        reply = _dict(_dict(message.get("interactive")).get("button_reply"))
        button = reply.get("id")
        if isinstance(button, str):
            return Inbound("whatsapp", message_id, "button", sender, sender, button)
    detail = kind if isinstance(kind, str) else "unknown"
    return Inbound("whatsapp", message_id, "unsupported", sender, sender, detail=detail[:32])
