"""Replies through the platform APIs: splitting at 4096, and the retry policy against the fake
servers (the sleep is recorded instead of waited)."""

from __future__ import annotations

import pytest
from tests.fakes.messaging import (
    GRAPH_TOKEN,
    PHONE_NUMBER_ID,
    TELEGRAM_TOKEN,
    FakeGraph,
    FakeTelegram,
)

from openclaw_secure_stack.webhooks.api import (
    ApiError,
    PlatformHttp,
    RetryPolicy,
    TelegramApi,
    WhatsAppApi,
    split_text,
)


def test_split_text_keeps_short_text_whole() -> None:
    assert split_text("hello") == ["hello"]
    assert split_text("") == [""]


def test_split_text_cuts_at_4096_utf16_units_without_breaking_surrogates() -> None:
    emoji = "\U0001f600" * 3000  # 2 UTF-16 units each
    pieces = split_text(emoji)
    assert [len(piece) for piece in pieces] == [2048, 952]
    assert "".join(pieces) == emoji


def test_split_text_prefers_a_line_break_in_the_second_half() -> None:
    text = "x" * 3000 + "\n" + "y" * 3000
    assert split_text(text) == ["x" * 3000 + "\n", "y" * 3000]


@pytest.mark.parametrize(
    ("attempt", "asked", "wait"),
    [
        (1, None, 0.5),
        (2, None, 1.0),
        (3, None, 2.0),
        (1, 7.0, 7.0),
        (1, 61.0, None),
        (5, None, None),
    ],
)
def test_the_retry_policy(attempt: int, asked: float | None, wait: float | None) -> None:
    assert RetryPolicy(attempts=5, max_wait=60.0).wait(attempt, asked) == wait


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


async def test_telegram_retry_after_is_honoured(telegram: FakeTelegram) -> None:
    telegram.clear()
    telegram.fail_next(429, times=2, retry_after=3)
    sleeps = Sleeps()
    http = PlatformHttp(RetryPolicy(5, 60.0), sleeps)
    try:
        sent = await TelegramApi(http, telegram.url, TELEGRAM_TOKEN).send_text("42", "hi")
    finally:
        await http.close()
    assert sent == 1
    assert sleeps.waits == [3.0, 3.0]
    assert len(telegram.calls) == 3


async def test_a_4xx_is_final_and_names_the_call_not_the_url(telegram: FakeTelegram) -> None:
    telegram.clear()
    http = PlatformHttp(RetryPolicy(5, 60.0), Sleeps())
    try:
        with pytest.raises(ApiError) as caught:
            await TelegramApi(http, telegram.url, "999:wrong-token").send_text("42", "hi")
    finally:
        await http.close()
    assert len(telegram.calls) == 1
    assert "Telegram sendMessage answered 401" in str(caught.value)
    assert "wrong-token" not in str(caught.value)


async def test_graph_5xx_backs_off_then_gives_up(graph: FakeGraph) -> None:
    graph.clear()
    graph.fail_next(503, times=10)
    sleeps = Sleeps()
    http = PlatformHttp(RetryPolicy(3, 60.0), sleeps)
    api = WhatsAppApi(http, graph.api_url, PHONE_NUMBER_ID, GRAPH_TOKEN)
    try:
        with pytest.raises(ApiError, match="gave up"):
            await api.send_text("49", "hi")
    finally:
        await http.close()
    assert sleeps.waits == [0.5, 1.0]
    assert len(graph.calls) == 3


async def test_graph_retry_after_header_is_honoured(graph: FakeGraph) -> None:
    graph.clear()
    graph.fail_next(429, retry_after=2)
    sleeps = Sleeps()
    http = PlatformHttp(RetryPolicy(3, 60.0), sleeps)
    try:
        await WhatsAppApi(http, graph.api_url, PHONE_NUMBER_ID, GRAPH_TOKEN).send_text("49", "hi")
    finally:
        await http.close()
    assert sleeps.waits == [2.0]
    assert graph.texts("49") == ["hi", "hi"]


async def test_an_unreachable_api_is_retried_then_reported(telegram: FakeTelegram) -> None:
    sleeps = Sleeps()
    http = PlatformHttp(RetryPolicy(2, 60.0), sleeps)
    try:
        with pytest.raises(ApiError, match="failed: Client"):
            await TelegramApi(http, "http://127.0.0.1:1", TELEGRAM_TOKEN).send_text("42", "hi")
    finally:
        await http.close()
    assert sleeps.waits == [0.5]
