"""A clock tests move by hand, for code that takes its time from a `Callable[[], float]`."""

from __future__ import annotations


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
