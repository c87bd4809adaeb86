"""The tamper-evident audit log: an HMAC chain over JSON Lines, shared by every worker process.

Each record carries `prev`, the `mac` of the record before it (`GENESIS_PREV` for the first one),
and its own `mac` = HMAC-SHA256(key, RFC 8785 canonical JSON of the record without `mac`). Editing,
deleting, reordering or splicing records therefore breaks the chain where it happened, and
without the key nobody can forge a rewritten chain.

Several processes append to one file and it stays one chain: an exclusive `flock` on a sidecar
lock file covers "find the chain head, build the record, append it". Each writer caches the head
together with the file's inode and the size it left the file at, and re-reads the tail only when
another writer has appended (size changed) or rotated (inode changed) since.

A record is acknowledged only after one `write()` of the whole line to an `O_APPEND` descriptor
has returned (no user-space buffer: there is nothing to flush), so a writer killed right after
`write` returns has lost nothing: the data is in the kernel's page cache. `sync()` makes what
was written survive a power loss or kernel crash too (`fdatasync`, when `fsync` is on:
`AUDIT_FSYNC`, the default); the proxy calls it for its intent records, from a worker thread,
one sync shared by every request waiting for it (`proxy/audit.py`). A file is synced before it
is rotated away, so a sync of the live file covers every record written before it.

After each append the chain head is sealed in the anchor file (`anchor.py`) under the same lock.
A writer re-reading the head compares the log with the anchor: when the log ends before the
anchored head (cut off, deleted, replaced by an older copy) it chains on from the anchor, so the
hole stays visible to `audit verify`; an anchor that is missing (for a log that holds records),
invalid, or more than one record behind the log stops the writer (fail closed) until an operator
re-seals the head with `openclaw-secure-stack audit anchor`.

Rotation renames `audit.jsonl` to `audit.jsonl.000001`, `.000002`, ... (numbers, not clock time,
so the order never depends on the clock) and the new file continues the same chain.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any

import re2
import rfc8785

from openclaw_secure_stack.audit.anchor import (
    SLOT_BYTES,
    Anchor,
    AnchorError,
    default_anchor_path,
    unseal,
    write_anchor,
)
from openclaw_secure_stack.audit.redact import redact
from openclaw_secure_stack.audit.sink import AuditEvent

GENESIS_PREV = "0" * 64
RECORD_FIELDS = ("seq", "ts", "event", "actor", "request_id", "outcome", "details", "prev", "mac")
MIN_KEY_BYTES = 32
# /ready reports the log unusable before the disk is so full that a write fails mid-request.
MIN_FREE_BYTES = 1024 * 1024
_MAC = re2.compile(r"^[0-9a-f]{64}$")
_TAIL_CHUNK = 2048  # a few records; doubled until the lines asked for are in it
_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))
_SAFE_INT = 2**53 - 1  # RFC 8785 numbers are IEEE doubles: larger integers are refused


class AuditLogError(Exception):
    """The audit log cannot record events; the message says which file and why."""


def record_mac(key: bytes, record: Mapping[str, object]) -> str:
    """Hex HMAC-SHA256 over the canonical JSON of `record` minus its `mac` field."""
    body: dict[str, Any] = {name: value for name, value in record.items() if name != "mac"}
    return hmac.new(key, rfc8785.dumps(body), hashlib.sha256).hexdigest()


def rotated_paths(path: Path) -> list[Path]:
    """The rotated predecessors of `path` (`path.000001`, ...), oldest first."""
    pattern = re2.compile(r"^" + re2.escape(path.name) + r"\.(\d{6,})$")
    numbered = []
    with contextlib.suppress(FileNotFoundError):
        for entry in path.parent.iterdir():
            match = pattern.match(entry.name)
            if match:
                numbered.append((int(match.group(1)), entry))
    return [entry for _, entry in sorted(numbered)]


def lock_path(path: Path) -> Path:
    """The sidecar file writers `flock` while they append to `path` and update its anchor."""
    return path.with_name(path.name + ".lock")


def chain_paths(path: Path) -> list[Path]:
    """Every file of the chain that ends in `path`, oldest first."""
    return [*rotated_paths(path), *([path] if path.exists() else [])]


def last_lines(fd: int, size: int, count: int) -> list[bytes]:
    """Up to `count` newline-terminated lines before `size`, oldest first, read backwards.

    A trailing partial line (no newline yet) is not a line: a writer may still be writing it,
    or was killed while writing it.
    """
    if count <= 0:
        return []
    chunk = _TAIL_CHUNK
    while True:
        start = max(0, size - chunk)
        data = os.pread(fd, size - start, start)
        whole = data[: data.rfind(b"\n") + 1]
        lines = whole.splitlines(keepends=True)
        if start > 0:
            lines = lines[1:]  # the first one may begin before `start`
        if len(lines) >= count or start == 0:
            return lines[-count:]
        chunk *= 2


_second_prefix: tuple[int, str] = (-1, "")


def utc_timestamp() -> str:
    """Now as RFC 3339 in UTC with microseconds, e.g. `2026-11-25T10:43:29.123456Z`.

    The date and time of day are formatted once per second (this runs for every record).
    """
    global _second_prefix
    second, micros = divmod(time.time_ns() // 1000, 1_000_000)
    cached, prefix = _second_prefix
    if cached != second:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _second_prefix = (second, prefix)
    return f"{prefix}.{micros:06d}Z"


@dataclass(frozen=True)
class _Head:
    seq: int
    mac: str


_GENESIS = _Head(0, GENESIS_PREV)
_REANCHOR_HINT = (
    "run `openclaw-secure-stack audit verify --no-anchor`, then `openclaw-secure-stack audit "
    "anchor` to seal the current head (the log records that it was re-anchored)"
)


class AuditLog:
    """Appends sealed records to `path`; safe to share between threads and worker processes."""

    def __init__(
        self,
        path: Path,
        key: bytes,
        rotate_bytes: int,
        *,
        anchor_path: Path | None = None,
        fsync: bool = False,
        reanchor: bool = False,
    ) -> None:
        """`reanchor` (the `audit anchor` command only) accepts a missing, invalid or stale
        anchor and seals the log's own head instead of refusing to write."""
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"audit key must be at least {MIN_KEY_BYTES} bytes")
        if rotate_bytes < 1:
            raise ValueError("rotate_bytes must be positive")
        self.path = path
        self._key = key
        self._rotate_bytes = rotate_bytes
        self._lock_path = lock_path(path)
        self.anchor_path = anchor_path or default_anchor_path(path)
        self._fsync = fsync
        self._reanchor = reanchor
        self._anchor_fd = -1
        self.resumed_from: dict[str, object] = {}  # how the last head re-read found log/anchor
        self._thread_lock = threading.Lock()
        self._pid = -1  # the process that owns the descriptors below
        self._fd = -1
        self._lock_fd = -1
        self._inode = -1
        self._size = -1  # where this writer left the file; anything else means another wrote
        self._head: _Head | None = None

    def write(self, event: AuditEvent) -> None:
        """Seal `event` into the chain, append it and anchor it; raise `AuditLogError` if that
        fails."""
        fields = _canonical_fields(event)  # the costly part, done before taking the lock
        with self._thread_lock:
            self._lock_file()
            try:
                self._seal_and_append(fields)
            finally:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def sync(self) -> None:
        """With `fsync` on, put every record this writer wrote so far on disk (blocking: call
        it from a worker thread); raise `AuditLogError` if that fails."""
        if not self._fsync:
            return
        with self._thread_lock:
            if self._fd < 0:
                return
            fd = os.dup(self._fd)  # the file our records went to, even if rotated meanwhile
        try:
            os.fdatasync(fd)
        except OSError as exc:
            raise AuditLogError(f"audit log {self.path}: cannot sync: {exc.strerror}") from exc
        finally:
            os.close(fd)

    def resume(
        self,
        actor: str | None = None,
        *,
        event: str = "audit.resumed",
        details: Mapping[str, object] | None = None,
    ) -> None:
        """Record that a writer (re)started: `audit.resumed` with the head it continues from
        (`prev_seq`, `prev_mac`) and what the log and the anchor said (`state`, `log_seq`,
        `anchor_seq`), so a restart is never silent and a cut-off tail shows."""
        with self._thread_lock:
            self._lock_file()
            try:
                self._current_head()
                found = {**self.resumed_from, **(details or {}), "pid": os.getpid()}
                record = AuditEvent(event, "ok", actor, None, found)
                self._seal_and_append(_canonical_fields(record))
            finally:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _seal_and_append(self, fields: Mapping[str, bytes]) -> None:
        head = self._current_head()
        body = _canonical_record(fields, seq=head.seq + 1, ts=utc_timestamp(), prev=head.mac)
        mac = hmac.digest(self._key, body, "sha256").hex()  # one C call, same MAC
        line = body[:-1] + b',"mac":"' + mac.encode() + b'"}\n'
        if self._size > 0 and self._size + len(line) > self._rotate_bytes:
            self._rotate()
        self._append(line)
        self._head = _Head(head.seq + 1, mac)
        try:
            write_anchor(self._anchor_fd, self._key, Anchor(head.seq + 1, mac, utc_timestamp()))
        except OSError as exc:
            raise AuditLogError(
                f"audit anchor {self.anchor_path}: {exc.strerror or exc}; the record was "
                "appended but not anchored"
            ) from exc

    def check(self) -> None:
        """Raise `AuditLogError` unless the next `write` can lock, read the head and append."""
        with self._thread_lock:
            self._lock_file()
            try:
                self._current_head()
            finally:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        try:
            stats = os.statvfs(self.path.parent)
        except OSError as exc:
            raise AuditLogError(f"audit log {self.path}: {exc.strerror}") from exc
        if stats.f_bavail * stats.f_frsize < MIN_FREE_BYTES:
            raise AuditLogError(f"audit log {self.path}: less than 1 MiB of disk space left")

    def close(self) -> None:
        with self._thread_lock:
            self._close_descriptors()

    def _lock_file(self) -> None:
        """Take the cross-process lock (the caller holds the thread lock and unlocks the file
        in a `finally`; a plain call, not a context manager, because it runs per record)."""
        try:
            if self._pid != os.getpid():
                self._open_for_this_process()
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        except OSError as exc:
            raise AuditLogError(f"audit log {self.path}: {exc.strerror or exc}") from exc

    def _open_for_this_process(self) -> None:
        # After a fork the inherited descriptors share the parent's lock: open our own.
        self._close_descriptors()
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self.anchor_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._anchor_fd = os.open(self.anchor_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self._pid = os.getpid()

    def _close_descriptors(self) -> None:
        for fd in (self._fd, self._lock_fd, self._anchor_fd):
            if fd >= 0:
                os.close(fd)
        self._fd = self._lock_fd = self._anchor_fd = self._inode = self._size = -1
        self._pid = -1
        self._head = None

    def _open_log(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = self._inode = -1
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
        self._fd = os.open(self.path, flags, 0o600)
        stat = os.fstat(self._fd)
        self._inode, self._size = stat.st_ino, -1

    def _current_head(self) -> _Head:
        """The chain head as the file says, re-read only if another writer changed the file."""
        try:
            try:
                stat = self.path.stat()
            except FileNotFoundError:
                stat = None
            if stat is None or stat.st_ino != self._inode:
                self._open_log()  # rotated (or removed) by someone else
                stat = os.fstat(self._fd)
            if self._head is not None and stat.st_size == self._size:
                return self._head
            self._size = stat.st_size
            if self._size > 0 and os.pread(self._fd, 1, self._size - 1) != b"\n":
                # A writer died mid-line (or the disk filled). Keep that file as evidence and
                # go on in a fresh one; verify reports the partial record.
                self._rotate()
            found = self._read_head()
            slot = os.pread(self._anchor_fd, SLOT_BYTES + 1, 0)
        except OSError as exc:
            raise AuditLogError(f"audit log {self.path}: {exc.strerror or exc}") from exc
        self._head = self._reconcile(found, slot)
        return self._head

    def _reconcile(self, found: _Head, slot: bytes) -> _Head:
        """The head to chain on from, given the log's last record and the anchor file.

        When the log ends before the anchored head (or before what this process wrote), its
        tail was cut off, deleted or replaced: chain on from the later head so `audit verify`
        shows the hole instead of a fresh, valid-looking chain.
        """
        anchor: _Head | None = None
        state = "ok"
        try:
            if slot:
                sealed = unseal(self._key, slot)
                anchor = _Head(sealed.seq, sealed.mac)
        except AnchorError as exc:
            if not self._reanchor:
                raise AuditLogError(
                    f"audit anchor {self.anchor_path}: {exc}; {_REANCHOR_HINT}"
                ) from None
            state = "invalid"
        head = found
        if anchor is None and state == "ok":
            state = "new" if found.seq == 0 else "missing"
        elif anchor is not None and (
            anchor.seq > found.seq or (anchor.seq == found.seq and anchor.mac != found.mac)
        ):
            state, head = "log_behind_anchor", anchor
        elif anchor is not None and found.seq > anchor.seq + 1:
            state = "anchor_stale"
        if state in ("missing", "anchor_stale") and not self._reanchor:
            raise AuditLogError(
                f"audit anchor {self.anchor_path}: "
                + (
                    f"none for a log that holds {found.seq} records"
                    if anchor is None
                    else f"it seals seq {anchor.seq} but the log goes on to seq {found.seq}"
                )
                + f"; {_REANCHOR_HINT}"
            )
        if self._head is not None and self._head.seq > head.seq:
            state, head = "log_behind_writer", self._head
        self.resumed_from = {
            "state": state,
            "log_seq": found.seq,
            "anchor_seq": anchor.seq if anchor else None,
            "prev_seq": head.seq,
            "prev_mac": head.mac,
        }
        return head

    def _read_head(self) -> _Head:
        """The last whole record of the current file, else of the newest rotated file."""
        lines = last_lines(self._fd, self._size, 1)
        if lines:
            return _parse_head(self.path, lines[0])
        for path in reversed(rotated_paths(self.path)):
            with path.open("rb") as file:
                lines = last_lines(file.fileno(), os.fstat(file.fileno()).st_size, 1)
            if lines:
                return _parse_head(path, lines[0])
        return _GENESIS

    def _rotate(self) -> None:
        previous = rotated_paths(self.path)
        number = int(previous[-1].name.rsplit(".", 1)[1]) + 1 if previous else 1
        target = self.path.with_name(f"{self.path.name}.{number:06d}")
        if target.exists():
            raise AuditLogError(f"cannot rotate {self.path}: {target} already exists")
        try:
            if self._fsync and self._fd >= 0:
                os.fdatasync(self._fd)  # a later sync() reaches only the new file
            self.path.rename(target)
            self._open_log()
        except OSError as exc:
            self._size = -1
            raise AuditLogError(f"cannot rotate {self.path}: {exc.strerror or exc}") from exc
        self._size = 0

    def _append(self, line: bytes) -> None:
        try:
            written = os.write(self._fd, line)
        except OSError as exc:
            self._size = -1
            raise AuditLogError(f"audit log {self.path}: {exc.strerror}") from exc
        self._size += written
        if written != len(line):
            raise AuditLogError(f"audit log {self.path}: short write ({written}/{len(line)})")


def _canonical_fields(event: AuditEvent) -> dict[str, bytes]:
    """RFC 8785 bytes of each member of the record that does not depend on the chain."""
    if not isinstance(event.event, str) or not isinstance(event.outcome, str):
        raise AuditLogError("audit event: event and outcome must be strings")
    if not all(
        value is None or isinstance(value, str) for value in (event.actor, event.request_id)
    ):
        raise AuditLogError(
            f"audit event {event.event!r}: actor and request_id must be str or None"
        )
    values: dict[str, Any] = {
        "actor": event.actor,
        "details": redact(event.details),
        "event": event.event,
        "outcome": event.outcome,
        "request_id": event.request_id,
    }
    try:
        return {name: canonical_json(value) for name, value in values.items()}
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise AuditLogError(
            f"audit event {event.event!r}: details cannot be written as JSON: {exc}"
        ) from exc


def canonical_json(value: object) -> bytes:
    """`rfc8785.dumps(value)`, from the C JSON encoder when that gives the same bytes.

    It does for text, safe integers, booleans, null, lists and objects with ASCII keys: both
    escape exactly `"`, `\\` and U+0000-U+001F (the same short forms, lower-case `\\u00xx`),
    leave everything else literal, and sort ASCII keys alike. Floats (ECMAScript formatting),
    other keys (UTF-16 order), other types and lone surrogates go to `rfc8785`, which formats
    or refuses them; a test holds both paths to the same bytes. `rfc8785` is pure Python and
    was most of the cost of an audit record.
    """
    try:  # a UnicodeEncodeError is a lone surrogate: rfc8785 refuses it below
        if type(value) is str:  # most members: the encoder's own string escaper, no walk
            return encode_basestring(value).encode()
        if value is None:
            return b"null"
        if _plain(value):
            return _ENCODER.encode(value).encode()
    except UnicodeEncodeError:
        pass
    return rfc8785.dumps(value)  # type: ignore[arg-type]  # it refuses what is not JSON


def _plain(value: object) -> bool:
    """True when the C encoder writes `value` exactly as RFC 8785 does (exact types only)."""
    if value is None or type(value) is str or type(value) is bool:
        return True
    if type(value) is int:
        return -_SAFE_INT <= value <= _SAFE_INT
    if type(value) is dict:
        return all(
            type(key) is str and key.isascii() and _plain(item) for key, item in value.items()
        )
    if type(value) is list or type(value) is tuple:
        return all(_plain(item) for item in value)
    return False


def _canonical_record(fields: Mapping[str, bytes], *, seq: int, ts: str, prev: str) -> bytes:
    """The RFC 8785 form of the record without `mac`, assembled from its members' forms.

    Member names are fixed ASCII, so RFC 8785's key order is their plain sorted order, written
    out here: the same bytes `rfc8785.dumps` gives for the whole record (a test holds it to
    that), without canonicalizing `details` while the lock is held.
    """
    return b"".join(
        [
            b'{"actor":',
            fields["actor"],
            b',"details":',
            fields["details"],
            b',"event":',
            fields["event"],
            b',"outcome":',
            fields["outcome"],
            b',"prev":"',
            prev.encode(),
            b'","request_id":',
            fields["request_id"],
            b',"seq":%d,"ts":"' % seq,
            ts.encode(),
            b'"}',
        ]
    )


def _parse_head(path: Path, line: bytes) -> _Head:
    try:
        record = json.loads(line)
        seq, mac = record["seq"], record["mac"]
    except (ValueError, TypeError, KeyError) as exc:
        raise AuditLogError(
            f"audit log {path}: the last record is unreadable, so the chain cannot continue; "
            "run `openclaw-secure-stack audit verify` to find the damage"
        ) from exc
    if not isinstance(seq, int) or not isinstance(mac, str) or not _MAC.match(mac):
        raise AuditLogError(
            f"audit log {path}: the last record has no valid seq/mac; "
            "run `openclaw-secure-stack audit verify` to find the damage"
        )
    return _Head(seq, mac)
