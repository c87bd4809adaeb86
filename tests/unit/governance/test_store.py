"""SQLite approvals: single use, expiry, requester rule, races, rate history."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from openclaw_secure_stack.governance.store import (
    ApprovalError,
    NewApproval,
    SqliteStore,
    State,
)

TTL = 600.0


def new(call_hash: str = "h1", requester: str = "alice") -> NewApproval:
    return NewApproval(call_hash, "exec", '{"command": "make"}', "agent:main:s", requester,
                       "needs approval", ("OSS-GOV-012",), "run-1", "call1")  # fmt: skip


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "governance.sqlite")
    yield opened
    await opened.close()


async def test_an_approved_call_is_used_once(store: SqliteStore) -> None:
    """Approve, then the exact call consumes it; a replay finds nothing."""
    pending = await store.request(new(), 100.0, TTL)
    assert pending.state is State.PENDING and pending.expires == 100.0 + TTL
    approved = await store.decide(pending.id, "bob", True, 110.0)
    assert approved.state is State.APPROVED and approved.decided_by == "bob"
    used = await store.consume("h1", 120.0)
    assert used is not None and used.id == pending.id and used.state is State.USED
    assert await store.consume("h1", 121.0) is None


async def test_a_changed_call_is_not_covered(store: SqliteStore) -> None:
    """An approval covers its own call hash only."""
    pending = await store.request(new("h1"), 100.0, TTL)
    await store.decide(pending.id, "bob", True, 110.0)
    assert await store.consume("h2", 120.0) is None
    assert await store.consume("h1", 121.0) is not None


async def test_the_same_pending_call_reuses_its_approval(store: SqliteStore) -> None:
    """Asking again for an undecided call does not open a second approval."""
    first = await store.request(new(), 100.0, TTL)
    again = await store.request(new(), 150.0, TTL)
    assert again.id == first.id
    assert [a.id for a in await store.pending(160.0)] == [first.id]


async def test_expiry(store: SqliteStore) -> None:
    """Past its expiry an approval can be neither decided nor used, and is shown expired."""
    pending = await store.request(new(), 100.0, TTL)
    with pytest.raises(ApprovalError) as error:
        await store.decide(pending.id, "bob", True, 100.0 + TTL)
    assert error.value.code == "approval_expired"
    second = await store.request(new("h2"), 100.0, TTL)
    await store.decide(second.id, "bob", True, 200.0)
    assert await store.consume("h2", 100.0 + TTL) is None
    shown = await store.get(second.id, 100.0 + TTL)
    assert shown is not None and shown.state is State.EXPIRED
    assert await store.pending(100.0 + TTL) == []


async def test_the_requester_cannot_decide(store: SqliteStore) -> None:
    """Self-approval is refused and leaves the approval pending."""
    pending = await store.request(new(requester="alice"), 100.0, TTL)
    with pytest.raises(ApprovalError) as error:
        await store.decide(pending.id, "alice", True, 110.0)
    assert error.value.code == "self_approval"
    current = await store.get(pending.id, 111.0)
    assert current is not None and current.state is State.PENDING


async def test_a_denied_approval_is_never_used(store: SqliteStore) -> None:
    """Deny is final: no consume, no later approve."""
    pending = await store.request(new(), 100.0, TTL)
    denied = await store.decide(pending.id, "bob", False, 110.0)
    assert denied.state is State.DENIED
    assert await store.consume("h1", 111.0) is None
    with pytest.raises(ApprovalError) as error:
        await store.decide(pending.id, "carol", True, 112.0)
    assert error.value.code == "approval_denied"


async def test_unknown_approval(store: SqliteStore) -> None:
    """Deciding an id that does not exist says so."""
    with pytest.raises(ApprovalError) as error:
        await store.decide("nope", "bob", True, 1.0)
    assert error.value.code == "unknown_approval"
    assert await store.get("nope", 1.0) is None


async def test_two_approvers_racing_from_two_processes(tmp_path: Path) -> None:
    """Two stores on one file (two processes) deciding at once: exactly one wins."""
    path = tmp_path / "shared.sqlite"
    stores = [SqliteStore(path), SqliteStore(path)]
    try:
        pending = await stores[0].request(new(), 100.0, TTL)
        for round_ in range(20):
            results = await asyncio.gather(
                stores[0].decide(pending.id, "bob", True, 110.0),
                stores[1].decide(pending.id, "carol", False, 110.0),
                return_exceptions=True,
            )
            winners = [r for r in results if not isinstance(r, BaseException)]
            losers = [r for r in results if isinstance(r, ApprovalError)]
            assert len(winners) == 1 and len(losers) == 1
            pending = await stores[0].request(new(f"h{round_}"), 100.0, TTL)
    finally:
        for opened in stores:
            await opened.close()


async def test_two_consumers_racing_use_it_once(tmp_path: Path) -> None:
    """One approval, two processes using it at once: one call goes through."""
    path = tmp_path / "shared.sqlite"
    stores = [SqliteStore(path), SqliteStore(path)]
    try:
        pending = await stores[0].request(new(), 100.0, TTL)
        await stores[0].decide(pending.id, "bob", True, 110.0)
        used = await asyncio.gather(*(s.consume("h1", 120.0) for s in stores))
        assert sorted(u is None for u in used) == [False, True]
    finally:
        for opened in stores:
            await opened.close()


async def test_rate_history_counts_per_scope_and_window(store: SqliteStore) -> None:
    """Calls are counted per session and per caller since a time."""
    for ts in (10.0, 20.0, 30.0):
        await store.record_call("s1", "alice", "read", "allow", ts)
    await store.record_call("s2", "alice", "read", "allow", 30.0)
    assert await store.count("session", "s1", 15.0) == 2
    assert await store.count("session", "s2", 0.0) == 1
    assert await store.count("caller", "alice", 0.0) == 4
    assert await store.count("caller", "bob", 0.0) == 0


async def test_the_database_is_wal_and_private(store: SqliteStore, tmp_path: Path) -> None:
    """WAL journal (readers do not block the writer) and mode 0600."""
    await store.pending(0.0)
    path = tmp_path / "governance.sqlite"
    assert path.stat().st_mode & 0o777 == 0o600
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_the_event_loop_is_not_blocked(store: SqliteStore) -> None:
    """Store work runs on its own thread: the loop's thread never touches SQLite."""
    import threading

    seen: list[str] = []
    original = store._db

    def spy() -> sqlite3.Connection:
        seen.append(threading.current_thread().name)
        return original()

    store._db = spy  # type: ignore[method-assign]
    await store.pending(0.0)
    assert seen and all(name.startswith("governance-sqlite") for name in seen)
