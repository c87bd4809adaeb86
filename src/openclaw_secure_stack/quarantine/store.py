"""The quarantine database (SQLite): what is quarantined, overridden or released, and the pins.

One row per unit name in `units` (its verdict, score, findings, content digest, where it came
from and where it is kept) and in `pins` (the digest approved for a path). The database lives in
the vault directory, which OpenClaw's sandbox does not mount.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

Status = Literal["quarantined", "overridden", "released"]
SCHEMA = """
CREATE TABLE IF NOT EXISTS units (
    name TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    original_path TEXT NOT NULL,
    vault_path TEXT,
    verdict TEXT NOT NULL,
    score INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    findings TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL,
    user TEXT,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pins (
    name TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    user TEXT,
    updated_at TEXT NOT NULL
);
"""


class StoreError(Exception):
    """The quarantine database cannot be used; the message names the file."""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Entry:
    name: str
    kind: str
    original_path: str
    vault_path: str | None
    verdict: str
    score: int
    sha256: str
    findings: tuple[dict[str, object], ...]
    status: Status
    reason: str
    user: str | None = None
    updated_at: str = ""

    def to_record(self) -> dict[str, object]:
        return {
            "name": self.name,
            "kind": self.kind,
            "original_path": self.original_path,
            "vault_path": self.vault_path,
            "verdict": self.verdict,
            "score": self.score,
            "sha256": self.sha256,
            "status": self.status,
            "reason": self.reason,
            "user": self.user,
            "updated_at": self.updated_at,
            "findings": list(self.findings),
        }


@dataclass(frozen=True)
class Pin:
    name: str
    path: str
    sha256: str
    user: str | None
    updated_at: str


class QuarantineStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, isolation_level=None, timeout=10)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"QUARANTINE_DB_PATH: cannot open {path}: {exc}") from exc

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def put(self, entry: Entry) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO units VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                entry.name,
                entry.kind,
                entry.original_path,
                entry.vault_path,
                entry.verdict,
                entry.score,
                entry.sha256,
                json.dumps(list(entry.findings)),
                entry.status,
                entry.reason,
                entry.user,
                entry.updated_at or now(),
            ),
        )

    def get(self, name: str) -> Entry | None:
        row = self._db.execute("SELECT * FROM units WHERE name = ?", (name,)).fetchone()
        return _entry(row) if row else None

    def entries(self, status: Status | None = None) -> list[Entry]:
        if status is None:
            rows = self._db.execute("SELECT * FROM units ORDER BY name").fetchall()
        else:
            rows = self._db.execute(
                "SELECT * FROM units WHERE status = ? ORDER BY name", (status,)
            ).fetchall()
        return [_entry(row) for row in rows]

    def put_pin(self, pin: Pin) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO pins VALUES (?,?,?,?,?)",
            (pin.name, pin.path, pin.sha256, pin.user, pin.updated_at or now()),
        )

    def pin(self, name: str) -> Pin | None:
        row = self._db.execute("SELECT * FROM pins WHERE name = ?", (name,)).fetchone()
        return Pin(*row) if row else None

    def pins(self) -> list[Pin]:
        return [Pin(*row) for row in self._db.execute("SELECT * FROM pins ORDER BY name")]

    def remove_pin(self, name: str) -> bool:
        return self._db.execute("DELETE FROM pins WHERE name = ?", (name,)).rowcount > 0


def _entry(row: tuple[object, ...]) -> Entry:
    (name, kind, original, vault, verdict, score, sha256, findings, status, reason, user, at) = row
    return Entry(
        name=str(name),
        kind=str(kind),
        original_path=str(original),
        vault_path=str(vault) if vault is not None else None,
        verdict=str(verdict),
        score=int(str(score)),
        sha256=str(sha256),
        findings=tuple(json.loads(str(findings))),
        status=str(status),  # type: ignore[arg-type]
        reason=str(reason),
        user=str(user) if user is not None else None,
        updated_at=str(at),
    )
