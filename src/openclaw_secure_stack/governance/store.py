"""Approvals, call history (rate counters) and session facts, behind one async protocol.

`ApprovalStore` is what the governance service and the approval channels (REST, CLI) use;
`SqliteStore` implements it on one SQLite file shared by every process of the stack (the model
gateway decides, the CLI approves): WAL journal, a busy timeout, and every state change a single
conditional `UPDATE` inside `BEGIN IMMEDIATE`, so two approvers (or two consumers of one
approval) racing, in one process or several, cannot both win. All SQLite work runs on one
worker thread per store, never on the event loop. A PostgreSQL store implements the same
protocol later.

An approval's life: `pending` -> `approved` | `denied` | `expired` (not decided in time);
`approved` -> `used` (the one call it covers ran) | `expired`. Rules the store enforces in the
same statement as the change: only a pending, unexpired approval can be decided; the approver is
not the requester; only an approved, unexpired approval for the exact call hash can be used,
once. Who may approve at all (the approver role) is the caller's check: see `service`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import enum
import secrets
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from openclaw_secure_stack.governance.model import RateScope

BUSY_TIMEOUT_MS = 5_000
HISTORY_SECONDS = 24 * 3600
T = TypeVar("T")


class State(enum.Enum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    USED = "used"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Approval:
    """A request for a person to allow one exact call, and what became of it."""

    id: str
    call_hash: str
    tool: str
    params_json: str
    session: str
    requester: str
    reason: str
    policy_ids: tuple[str, ...]
    created: float
    expires: float
    state: State
    decided_by: str | None = None
    decided_at: float | None = None
    run_id: str | None = None
    tool_call_id: str | None = None


@dataclass(frozen=True)
class NewApproval:
    call_hash: str
    tool: str
    params_json: str
    session: str
    requester: str
    reason: str
    policy_ids: tuple[str, ...]
    run_id: str | None = None
    tool_call_id: str | None = None


class ApprovalError(Exception):
    """An approval that cannot be decided as asked; `code` is stable for APIs and the CLI."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class ApprovalStore(Protocol):
    async def request(self, new: NewApproval, now: float, ttl: float) -> Approval:
        """A pending approval for this call: the open one for the same hash, or a new one."""
        ...

    async def get(self, approval_id: str, now: float) -> Approval | None: ...

    async def pending(self, now: float) -> Sequence[Approval]: ...

    async def decide(self, approval_id: str, approver: str, approve: bool, now: float) -> Approval:
        """Approve or deny a pending approval; raises ApprovalError saying why not."""
        ...

    async def consume(self, call_hash: str, now: float) -> Approval | None:
        """Use the approved approval for exactly this call, once; None if there is none."""
        ...

    async def record_call(
        self, session: str, caller: str, tool: str, verdict: str, now: float
    ) -> None: ...

    async def count(self, scope: RateScope, key: str, since: float) -> int: ...

    async def close(self) -> None: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS approvals (
    id TEXT PRIMARY KEY,
    call_hash TEXT NOT NULL,
    tool TEXT NOT NULL,
    params_json TEXT NOT NULL,
    session TEXT NOT NULL,
    requester TEXT NOT NULL,
    reason TEXT NOT NULL,
    policy_ids TEXT NOT NULL,
    created REAL NOT NULL,
    expires REAL NOT NULL,
    state TEXT NOT NULL,
    decided_by TEXT,
    decided_at REAL,
    run_id TEXT,
    tool_call_id TEXT
);
CREATE INDEX IF NOT EXISTS approvals_by_hash ON approvals (call_hash, state);
CREATE TABLE IF NOT EXISTS calls (
    ts REAL NOT NULL,
    session TEXT NOT NULL,
    caller TEXT NOT NULL,
    tool TEXT NOT NULL,
    verdict TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS calls_by_session ON calls (session, ts);
CREATE INDEX IF NOT EXISTS calls_by_caller ON calls (caller, ts);
"""
# `SELECT *` reads columns in the CREATE TABLE order above, which `_row` unpacks.
_BY_ID = "SELECT * FROM approvals WHERE id = ?"


def _row(row: sqlite3.Row | tuple[object, ...], now: float) -> Approval:
    (approval_id, call_hash, tool, params_json, session, requester, reason, policy_ids, created,
     expires, state, decided_by, decided_at, run_id, tool_call_id) = tuple(row)  # fmt: skip
    current = State(str(state))
    if current in (State.PENDING, State.APPROVED) and float(str(expires)) <= now:
        current = State.EXPIRED
    return Approval(
        id=str(approval_id),
        call_hash=str(call_hash),
        tool=str(tool),
        params_json=str(params_json),
        session=str(session),
        requester=str(requester),
        reason=str(reason),
        policy_ids=tuple(str(policy_ids).split(",")) if policy_ids else (),
        created=float(str(created)),
        expires=float(str(expires)),
        state=current,
        decided_by=None if decided_by is None else str(decided_by),
        decided_at=None if decided_at is None else float(str(decided_at)),
        run_id=None if run_id is None else str(run_id),
        tool_call_id=None if tool_call_id is None else str(tool_call_id),
    )


class SqliteStore:
    """`ApprovalStore` on a SQLite file; one worker thread owns the connection."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="governance-sqlite"
        )
        self._connection: sqlite3.Connection | None = None

    # --- the worker thread's side -------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(
                self._path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None
            )
            connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = NORMAL")
            connection.executescript(_SCHEMA)
            self._path.chmod(0o600)
            self._connection = connection
        return self._connection

    def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            result = work(db)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return result

    def _request(self, new: NewApproval, now: float, ttl: float) -> Approval:
        def work(db: sqlite3.Connection) -> Approval:
            open_row = db.execute(
                "SELECT * FROM approvals WHERE call_hash = ? AND state = 'pending' "
                "AND expires > ? ORDER BY created LIMIT 1",
                (new.call_hash, now),
            ).fetchone()
            if open_row is not None:
                return _row(open_row, now)
            approval_id = secrets.token_urlsafe(12)
            db.execute(
                "INSERT INTO approvals VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', NULL, NULL, ?, ?)",
                (approval_id, new.call_hash, new.tool, new.params_json, new.session,
                 new.requester, new.reason, ",".join(new.policy_ids), now, now + ttl,
                 new.run_id, new.tool_call_id),
            )  # fmt: skip
            return _row(
                db.execute(_BY_ID, (approval_id,)).fetchone(),
                now,
            )

        return self._write(work)

    def _get(self, approval_id: str, now: float) -> Approval | None:
        row = self._db().execute(_BY_ID, (approval_id,)).fetchone()
        return None if row is None else _row(row, now)

    def _pending(self, now: float) -> list[Approval]:
        rows = self._db().execute(
            "SELECT * FROM approvals WHERE state = 'pending' AND expires > ? ORDER BY created",
            (now,),
        )
        return [_row(row, now) for row in rows]

    def _decide(self, approval_id: str, approver: str, approve: bool, now: float) -> Approval:
        state = State.APPROVED if approve else State.DENIED

        def work(db: sqlite3.Connection) -> Approval:
            changed = db.execute(
                "UPDATE approvals SET state = ?, decided_by = ?, decided_at = ? "
                "WHERE id = ? AND state = 'pending' AND expires > ? AND requester != ?",
                (state.value, approver, now, approval_id, now, approver),
            ).rowcount
            row = db.execute(_BY_ID, (approval_id,)).fetchone()
            if row is None:
                raise ApprovalError("unknown_approval", f"no approval {approval_id!r}")
            current = _row(row, now)
            if changed == 1:
                return current
            if current.requester == approver:
                raise ApprovalError(
                    "self_approval", f"{approver!r} requested this call and cannot decide it"
                )
            raise ApprovalError(
                f"approval_{current.state.value}",
                f"approval {approval_id} is {current.state.value}, not pending",
            )

        return self._write(work)

    def _consume(self, call_hash: str, now: float) -> Approval | None:
        def work(db: sqlite3.Connection) -> Approval | None:
            row = db.execute(
                "SELECT id FROM approvals WHERE call_hash = ? AND state = 'approved' "
                "AND expires > ? ORDER BY decided_at LIMIT 1",
                (call_hash, now),
            ).fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE approvals SET state = 'used' WHERE id = ? AND state = 'approved'",
                (row[0],),
            )
            used = db.execute(_BY_ID, (row[0],))
            return _row(used.fetchone(), now)

        return self._write(work)

    def _record_call(self, session: str, caller: str, tool: str, verdict: str, now: float) -> None:
        def work(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO calls (ts, session, caller, tool, verdict) VALUES (?, ?, ?, ?, ?)",
                (now, session, caller, tool, verdict),
            )
            db.execute("DELETE FROM calls WHERE ts < ?", (now - HISTORY_SECONDS,))

        self._write(work)

    def _count(self, scope: RateScope, key: str, since: float) -> int:
        column = "session" if scope == "session" else "caller"
        row = (
            self._db()
            .execute(
                f"SELECT COUNT(*) FROM calls WHERE {column} = ? AND ts >= ?",  # noqa: S608
                (key, since),
            )
            .fetchone()
        )
        return int(row[0])

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    # --- the event loop's side ----------------------------------------------------------

    async def _run(self, work: Callable[..., T], *args: object) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, work, *args)

    async def request(self, new: NewApproval, now: float, ttl: float) -> Approval:
        return await self._run(self._request, new, now, ttl)

    async def get(self, approval_id: str, now: float) -> Approval | None:
        return await self._run(self._get, approval_id, now)

    async def pending(self, now: float) -> Sequence[Approval]:
        return await self._run(self._pending, now)

    async def decide(self, approval_id: str, approver: str, approve: bool, now: float) -> Approval:
        return await self._run(self._decide, approval_id, approver, approve, now)

    async def consume(self, call_hash: str, now: float) -> Approval | None:
        return await self._run(self._consume, call_hash, now)

    async def record_call(
        self, session: str, caller: str, tool: str, verdict: str, now: float
    ) -> None:
        await self._run(self._record_call, session, caller, tool, verdict, now)

    async def count(self, scope: RateScope, key: str, since: float) -> int:
        return await self._run(self._count, scope, key, since)

    async def close(self) -> None:
        await self._run(self._close)
        self._executor.shutdown(wait=True)
