"""Token buckets per sender and per chat, so one flooding sender (or one busy group) cannot use
up the relay's queue or the agent's time for everyone else.

Keys are the platform's sender and chat ids, known only after the signature check: never the
peer address, which behind a tunnel is one address for every delivery.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """`burst` tokens per key, refilled at `per_minute`; buckets that refilled completely are
    forgotten once more than `max_keys` exist (a full bucket is the same as no bucket)."""

    def __init__(
        self, per_minute: float, burst: int, clock: Callable[[], float], max_keys: int = 10_000
    ) -> None:
        self._rate = per_minute / 60.0
        self._burst = float(burst)
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: dict[str, _Bucket] = {}

    def _refilled(self, key: str, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._max_keys:
                self._forget_full(now)
            bucket = self._buckets[key] = _Bucket(self._burst, now)
        elapsed = max(0.0, now - bucket.updated)
        bucket.tokens = min(self._burst, bucket.tokens + elapsed * self._rate)
        bucket.updated = now
        return bucket

    def _forget_full(self, now: float) -> None:
        full = [
            key
            for key, bucket in self._buckets.items()
            if bucket.tokens + (now - bucket.updated) * self._rate >= self._burst
        ]
        for key in full:
            del self._buckets[key]

    def has_token(self, key: str) -> bool:
        return self._refilled(key, self._clock()).tokens >= 1.0

    def take(self, key: str) -> None:
        self._refilled(key, self._clock()).tokens -= 1.0

    def give_back(self, key: str) -> None:
        bucket = self._refilled(key, self._clock())
        bucket.tokens = min(self._burst, bucket.tokens + 1.0)


class RateLimits:
    """A message passes when both its sender's and its chat's bucket hold a token; only then is
    a token taken from each (a refused message costs nothing)."""

    def __init__(self, senders: TokenBuckets, chats: TokenBuckets) -> None:
        self._senders = senders
        self._chats = chats

    def allow(self, sender: str, chat: str) -> bool:
        if not (self._senders.has_token(sender) and self._chats.has_token(chat)):
            return False
        self._senders.take(sender)
        self._chats.take(chat)
        return True

    def refund(self, sender: str, chat: str) -> None:
        """Give back what `allow` took (the message was not relayed after all)."""
        self._senders.give_back(sender)
        self._chats.give_back(chat)
