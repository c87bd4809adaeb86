"""Token buckets per sender and per chat."""

from __future__ import annotations

from tests.fakes.clock import Clock

from openclaw_secure_stack.webhooks.ratelimit import RateLimits, TokenBuckets


def limits(clock: Clock, sender_rate: float = 60.0, chat_rate: float = 60.0) -> RateLimits:
    return RateLimits(TokenBuckets(sender_rate, 3, clock), TokenBuckets(chat_rate, 3, clock))


def test_a_burst_then_the_refill_rate() -> None:
    clock = Clock()
    rate = limits(clock)
    assert [rate.allow("ada", "c") for _ in range(4)] == [True, True, True, False]
    clock.now += 1.0  # 60 per minute: one token per second
    assert [rate.allow("ada", "c") for _ in range(2)] == [True, False]


def test_one_sender_does_not_use_up_another() -> None:
    clock = Clock()
    rate = limits(clock)
    for _ in range(10):
        rate.allow("ada", "ada")
    assert rate.allow("bob", "bob")


def test_the_chat_bucket_limits_a_busy_group() -> None:
    clock = Clock()
    rate = limits(clock)
    assert [rate.allow(sender, "group") for sender in ("a", "b", "c", "d")] == [True] * 3 + [False]


def test_a_refused_message_costs_no_token() -> None:
    """Refused by the chat bucket, the sender keeps its token for another chat."""
    clock = Clock()
    rate = limits(clock)
    for sender in ("a", "b", "c"):
        rate.allow(sender, "group")
    assert not rate.allow("ada", "group")
    assert [rate.allow("ada", "ada") for _ in range(4)] == [True, True, True, False]


def test_a_refund_gives_the_tokens_back() -> None:
    clock = Clock()
    rate = limits(clock)
    for _ in range(3):
        rate.allow("ada", "ada")
    rate.refund("ada", "ada")
    assert rate.allow("ada", "ada")
    assert not rate.allow("ada", "ada")


def test_full_buckets_are_forgotten_past_max_keys() -> None:
    clock = Clock()
    buckets = TokenBuckets(60.0, 1, clock, max_keys=2)
    buckets.take("a")
    buckets.has_token("b")  # full
    buckets.has_token("c")  # over max_keys: "b" (full) is forgotten, "a" (empty) is kept
    assert not buckets.has_token("a")
