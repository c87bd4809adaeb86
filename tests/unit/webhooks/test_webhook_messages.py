"""Reading deliveries into `Inbound`s: what is a message, what is ignored, what is malformed."""

from __future__ import annotations

import pytest
from tests.fakes.messaging import (
    PHONE_NUMBER_ID,
    telegram_update,
    whatsapp_message,
    whatsapp_notification,
    whatsapp_status,
)

from openclaw_secure_stack.webhooks.messages import (
    Inbound,
    Malformed,
    telegram_inbound,
    whatsapp_inbound,
)


def test_a_telegram_text_message() -> None:
    [message] = telegram_inbound(telegram_update(5, "hi", sender=42, chat=-100))
    assert message == Inbound("telegram", "5", "text", "42", "-100", "hi")


def test_a_telegram_caption_is_the_text_and_media_alone_is_unsupported() -> None:
    update = telegram_update(6, None, sender=42)
    [photo] = telegram_inbound(update)
    assert (photo.kind, photo.detail) == ("unsupported", "photo")
    update["message"]["caption"] = "look"
    [captioned] = telegram_inbound(update)
    assert (captioned.kind, captioned.text) == ("text", "look")


def test_telegram_updates_that_are_not_messages_are_other() -> None:
    [edited] = telegram_inbound({"update_id": 7, "edited_message": {"text": "x"}})
    assert (edited.kind, edited.detail) == ("other", "edited_message")


def test_a_telegram_button_press() -> None:
    update = {
        "update_id": 8,
        "callback_query": {
            "id": "cb1",
            "from": {"id": 42},
            "message": {"chat": {"id": 42}},
            "data": "approve:nonce",
        },
    }
    [press] = telegram_inbound(update)
    assert (press.kind, press.sender, press.chat, press.text) == (
        "button",
        "42",
        "42",
        "approve:nonce",
    )


@pytest.mark.parametrize(
    "document", [[], "update", {"update_id": "5"}, {"update_id": True}, {"message": {}}]
)
def test_a_document_without_a_numeric_update_id_is_malformed(document: object) -> None:
    with pytest.raises(Malformed):
        telegram_inbound(document)


def test_telegram_ids_that_are_not_numbers_leave_sender_and_chat_unknown() -> None:
    update = {"update_id": 9, "message": {"from": {"id": "42"}, "chat": {"id": True}, "text": "x"}}
    [message] = telegram_inbound(update)
    assert (message.sender, message.chat) == (None, None)


def test_whatsapp_messages_statuses_and_types() -> None:
    notification = whatsapp_notification(
        [
            whatsapp_message("wamid.1", "hi", sender="49"),
            whatsapp_message("wamid.2", None, sender="49"),
        ],
        [whatsapp_status("wamid.0", "read")],
    )
    status, text, image = whatsapp_inbound(notification, PHONE_NUMBER_ID)
    assert (status.kind, status.detail) == ("status", "read")
    assert text == Inbound("whatsapp", "wamid.1", "text", "49", "49", "hi")
    assert (image.kind, image.detail) == ("unsupported", "image")


def test_a_whatsapp_button_reply() -> None:
    message = {
        "from": "49",
        "id": "wamid.3",
        "type": "interactive",
        "interactive": {"type": "button_reply", "button_reply": {"id": "deny:n", "title": "Deny"}},
    }
    [press] = whatsapp_inbound(whatsapp_notification([message]), PHONE_NUMBER_ID)
    assert (press.kind, press.text) == ("button", "deny:n")


def test_whatsapp_items_for_another_number_or_unreadable_are_other() -> None:
    other = whatsapp_notification([whatsapp_message("wamid.4", "hi")], phone_number_id="1")
    [message] = whatsapp_inbound(other, PHONE_NUMBER_ID)
    assert (message.kind, message.detail) == ("other", "other_number")
    broken = whatsapp_notification([{"from": 49, "id": None}])
    [unreadable] = whatsapp_inbound(broken, PHONE_NUMBER_ID)
    assert (unreadable.kind, unreadable.detail) == ("other", "unreadable")


@pytest.mark.parametrize("document", [[], {"object": "x"}, {"entry": {}}])
def test_a_whatsapp_document_without_entries_is_malformed(document: object) -> None:
    with pytest.raises(Malformed):
        whatsapp_inbound(document, PHONE_NUMBER_ID)


def test_the_audit_summary_never_holds_the_text() -> None:
    summary = Inbound("telegram", "1", "text", "2", "2", "my secret plan").audit()
    assert "my secret plan" not in str(summary)
    assert summary["chars"] == len("my secret plan")
