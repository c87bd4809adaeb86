"""Both replay stores: a key is new once per ttl, expired keys are new again, a discarded key
is new again, and the SQLite store keeps keys across reopening."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from openclaw_secure_stack.webhooks.replay import (
    MemoryReplayStore,
    ReplayStore,
    SqliteReplayStore,
)

TTL = 100.0
Factory = Callable[[Path], ReplayStore]
STORES: dict[str, Factory] = {
    "memory": lambda path: MemoryReplayStore(TTL),
    "sqlite": lambda path: SqliteReplayStore(path / "replay.sqlite", TTL),
}


@pytest.fixture(params=sorted(STORES))
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ReplayStore]:
    made = STORES[request.param](tmp_path)
    yield made
    await made.close()


async def test_a_key_is_new_once(store: ReplayStore) -> None:
    assert await store.add("a", 0.0)
    assert not await store.add("a", 1.0)
    assert await store.add("b", 1.0)


async def test_an_expired_key_is_new_again(store: ReplayStore) -> None:
    assert await store.add("a", 0.0)
    assert not await store.add("a", TTL - 1)
    assert await store.add("a", TTL)
    assert not await store.add("a", TTL + 1)


async def test_a_discarded_key_is_new_again(store: ReplayStore) -> None:
    assert await store.add("a", 0.0)
    await store.discard("a")
    assert await store.add("a", 1.0)


async def test_sqlite_keys_survive_reopening(tmp_path: Path) -> None:
    first = SqliteReplayStore(tmp_path / "replay.sqlite", TTL)
    assert await first.add("a", 0.0)
    await first.close()
    second = SqliteReplayStore(tmp_path / "replay.sqlite", TTL)
    assert not await second.add("a", 1.0)
    await second.close()


async def test_sqlite_purges_expired_rows(tmp_path: Path) -> None:
    store = SqliteReplayStore(tmp_path / "replay.sqlite", TTL)
    for number in range(SqliteReplayStore.PURGE_EVERY - 1):
        await store.add(f"old-{number}", 0.0)
    await store.add("new", TTL * 2)  # the PURGE_EVERY-th insert deletes the expired rows
    await store.close()
    with sqlite3.connect(tmp_path / "replay.sqlite") as db:
        assert db.execute("SELECT key FROM seen").fetchall() == [("new",)]
