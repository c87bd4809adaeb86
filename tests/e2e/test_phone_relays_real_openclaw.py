"""The phone relays against the real OpenClaw: a Telegram update and a WhatsApp notification go
in at the proxy's webhooks, the real agent answers (through the fake model), and the answers go
out through the fake Telegram Bot API and Graph API, with the relays' records in the audit log."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from harness import REQUEST_TIMEOUT, StackHandle, http_post
from tests.fakes.messaging import (
    APP_SECRET,
    GRAPH_TOKEN,
    PHONE_NUMBER_ID,
    TELEGRAM_SECRET,
    TELEGRAM_TOKEN,
    VERIFY_TOKEN,
    FakeGraph,
    FakeTelegram,
    encoded,
    telegram_headers,
    telegram_update,
    whatsapp_headers,
    whatsapp_message,
    whatsapp_notification,
)

ADA, ADA_WA = 1001, "4915550001"


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + REQUEST_TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {REQUEST_TIMEOUT} s")
        time.sleep(0.2)


def post(stack: StackHandle, path: str, body: bytes, headers: list[tuple[str, str]]) -> int:
    return http_post(stack.proxy_url + path, body, dict(headers), timeout=30).status


def test_phone_messages_reach_the_agent_and_its_answers_go_back(
    stack: StackHandle, telegram: FakeTelegram, graph: FakeGraph
) -> None:
    with stack.reconfigured(
        TELEGRAM_BOT_TOKEN=TELEGRAM_TOKEN,
        TELEGRAM_WEBHOOK_SECRET=TELEGRAM_SECRET,
        TELEGRAM_ALLOWED_USERS=str(ADA),
        TELEGRAM_API_URL=telegram.url,
        WHATSAPP_ACCESS_TOKEN=GRAPH_TOKEN,
        WHATSAPP_APP_SECRET=APP_SECRET,
        WHATSAPP_VERIFY_TOKEN=VERIFY_TOKEN,
        WHATSAPP_PHONE_NUMBER_ID=PHONE_NUMBER_ID,
        WHATSAPP_ALLOWED_NUMBERS=ADA_WA,
        WHATSAPP_API_URL=graph.api_url,
    ):
        stack.llm.reply("the agent says hi")
        update = encoded(telegram_update(7001, "hello from telegram", sender=ADA))
        assert post(stack, "/webhook/telegram", update, telegram_headers()) == 200
        wait_for(lambda: bool(telegram.texts(ADA)), "a Telegram reply")
        assert telegram.texts(ADA) == ["the agent says hi"]
        assert any("hello from telegram" in r.text() for r in stack.llm.requests)

        stack.llm.reply("the agent says hola")
        stack.llm.clear()
        body = encoded(
            whatsapp_notification([whatsapp_message("wamid.E2E1", "hola from whatsapp")])
        )
        assert post(stack, "/webhook/whatsapp", body, whatsapp_headers(body)) == 200
        wait_for(lambda: bool(graph.texts(ADA_WA)), "a WhatsApp reply")
        assert graph.texts(ADA_WA) == ["the agent says hola"]
        assert any("hola from whatsapp" in r.text() for r in stack.llm.requests)

        # A forged delivery reaches nothing.
        stack.llm.clear()
        forged = encoded(telegram_update(7002, "forged", sender=ADA))
        assert post(stack, "/webhook/telegram", forged, telegram_headers("wrong")) == 401
        records = [json.loads(line) for line in stack.audit_log_path.read_text().splitlines()]
        deliveries = [r for r in records if r["event"] == "webhook.delivery"]
        assert [r["details"]["reason"] for r in deliveries] == [
            "queued",
            "queued",
            "bad_signature",
        ]
        replies = [r for r in records if r["event"] == "webhook.reply"]
        assert [(r["actor"], r["outcome"]) for r in replies] == [
            ("webhook:telegram", "sent"),
            ("webhook:whatsapp", "sent"),
        ]
        assert stack.llm.requests == []
