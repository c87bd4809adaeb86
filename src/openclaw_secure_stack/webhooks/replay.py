"""Replay protection: which message ids were already delivered, for `ttl` seconds.

Platforms retry a delivery they think failed (WhatsApp for up to 7 days, to every subscribed app)
and Telegram's `update_id`s are sequential but may jump, so a high-water mark would drop real
updates after a jump: an expiring set of seen ids is what works. The store sits behind a small
protocol: `MemoryReplayStore` for tests and a single process, `SqliteReplayStore` (the default)
survives restarts and is shared by every proxy worker process.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Protocol


class ReplayStore(Protocol):
    async def add(self, key: str, now: float) -> bool:
        """Remember `key` until `now + ttl`; False if it is remembered already."""

    async def discard(self, key: str) -> None:
        """Forget `key` (its delivery was answered "retry later", so the retry is no replay)."""

    async def close(self) -> None: ...


class MemoryReplayStore:
    """Keys in insertion order; with one ttl that is also expiry order, so expired keys are
    dropped from the front as new ones arrive."""

    def __init__(self, ttl: float) -> None:
        self._ttl = ttl
        self._expires: OrderedDict[str, float] = OrderedDict()

    async def add(self, key: str, now: float) -> bool:
        while self._expires:
            oldest, expires = next(iter(self._expires.items()))
            if expires > now:
                break
            del self._expires[oldest]
        if key in self._expires:
            return False
        self._expires[key] = now + self._ttl
        return True

    async def discard(self, key: str) -> None:
        self._expires.pop(key, None)

    async def close(self) -> None:
        self._expires.clear()


class SqliteReplayStore:
    """One table `seen(key, expires)`; an insert that finds an expired row takes it over. Each
    call runs in a worker thread (the disk stays off the event loop); SQLite's own locking
    makes check-and-insert atomic across worker processes."""

    PURGE_EVERY = 256  # inserts between deletions of expired rows

    def __init__(self, path: Path, ttl: float) -> None:
        self._ttl = ttl
        self._path = path
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._inserts = 0

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            self._path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            db = sqlite3.connect(self._path, timeout=10, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("CREATE TABLE IF NOT EXISTS seen (key TEXT PRIMARY KEY, expires REAL)")
            db.execute("CREATE INDEX IF NOT EXISTS seen_expires ON seen (expires)")
            db.commit()
            self._db = db
        return self._db

    def _add(self, key: str, now: float) -> bool:
        with self._lock:
            db = self._connection()
            with db:
                self._inserts += 1
                if self._inserts % self.PURGE_EVERY == 0:
                    db.execute("DELETE FROM seen WHERE expires <= ?", (now,))
                cursor = db.execute(
                    "INSERT INTO seen (key, expires) VALUES (?, ?) ON CONFLICT (key) DO UPDATE "
                    "SET expires = excluded.expires WHERE seen.expires <= ?",
                    (key, now + self._ttl, now),
                )
            return cursor.rowcount == 1

    def _discard(self, key: str) -> None:
        with self._lock, self._connection() as db:
            db.execute("DELETE FROM seen WHERE key = ?", (key,))

    async def add(self, key: str, now: float) -> bool:
        return await asyncio.to_thread(self._add, key, now)

    async def discard(self, key: str) -> None:
        await asyncio.to_thread(self._discard, key)

    async def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
