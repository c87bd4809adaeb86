"""Check an audit chain record by record and name the first place it breaks.

The files are read in the order given (oldest first) as one chain. The first problem found is
reported with its file, line number and a reason a person can act on:

- `bad_json`: the line is not JSON (truncated or edited by hand);
- `bad_record`: JSON, but a field is missing, extra or of the wrong type;
- `mac_mismatch`: the content no longer matches its mac (a field was edited, or wrong key);
- `seq_gap`: records are missing (deleted);
- `reordered`: a record sits out of sequence (moved, swapped or replayed);
- `prev_mismatch`: the record does not chain to the one before it (spliced from another log);
- `file_boundary`: a file does not continue the previous file (a rotated file is missing or
  out of order);
- `chain_start`: the first record is not the start of a chain (the oldest files are missing;
  after deliberate pruning, `pruned_start=True` trusts the first record as the anchor instead);
- `partial_record`: a line without its newline in a rotated file (only the live file may end in
  a record still being written; a writer that finds one rotates the file away as evidence);
- `truncated`: the log ends before the head sealed in the anchor (records cut off, the log
  deleted, or replaced by an older copy);
- `anchor_mismatch`: the record at the anchored seq is not the anchored one (log replaced);
- `anchor_stale`: the log goes on more than one record past the anchor (anchor rolled back);
- `anchor_missing`, `anchor_invalid`: a log with records but no anchor, or a forged/edited one.

A last line with no newline at the end of the live file is a record whose writer was killed
mid-write (or the disk filled); it was never acknowledged, so it is reported as a partial
record, not as a break.
"""

from __future__ import annotations

import contextlib
import fcntl
import hmac
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO

import rfc8785

from openclaw_secure_stack.audit.anchor import Anchor, AnchorError, read_anchor
from openclaw_secure_stack.audit.log import (
    GENESIS_PREV,
    RECORD_FIELDS,
    chain_paths,
    lock_path,
    record_mac,
)

_OPTIONAL_TEXT = ("actor", "request_id")
_TEXT = ("ts", "event", "outcome", "prev", "mac")
_MAX_EXACT_INT = 2**53 - 1


class Reason(StrEnum):
    BAD_JSON = "bad_json"
    BAD_RECORD = "bad_record"
    MAC_MISMATCH = "mac_mismatch"
    SEQ_GAP = "seq_gap"
    REORDERED = "reordered"
    PREV_MISMATCH = "prev_mismatch"
    FILE_BOUNDARY = "file_boundary"
    CHAIN_START = "chain_start"
    PARTIAL_RECORD = "partial_record"
    TRUNCATED = "truncated"
    ANCHOR_MISMATCH = "anchor_mismatch"
    ANCHOR_STALE = "anchor_stale"
    ANCHOR_MISSING = "anchor_missing"
    ANCHOR_INVALID = "anchor_invalid"


@dataclass(frozen=True)
class Break:
    file: Path
    line: int
    reason: Reason
    message: str


@dataclass(frozen=True)
class PartialRecord:
    """A last line without its newline: intact up to the line before it."""

    file: Path
    line: int


@dataclass
class Verification:
    files: list[Path]
    records: int = 0
    first_seq: int = 0
    first_ts: str | None = None
    last_ts: str | None = None
    last_seq: int = 0
    broken: Break | None = None
    partial: list[PartialRecord] = field(default_factory=list)
    anchor_seq: int | None = None  # the anchored head compared against; None: not compared

    @property
    def intact(self) -> bool:
        return self.broken is None

    def as_json(self) -> dict[str, object]:
        broken = self.broken
        return {
            "intact": self.intact,
            "records": self.records,
            "files": [str(path) for path in self.files],
            "first_seq": self.first_seq,
            "first_ts": self.first_ts,
            "last_ts": self.last_ts,
            "last_seq": self.last_seq,
            "break": None
            if broken is None
            else {
                "file": str(broken.file),
                "line": broken.line,
                "reason": broken.reason.value,
                "message": broken.message,
            },
            "partial_records": [{"file": str(p.file), "line": p.line} for p in self.partial],
            "anchor_seq": self.anchor_seq,
        }


class _Invalid(Exception):
    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class _Line:
    file: Path
    number: int
    raw: bytes


def verify_anchored(
    paths: list[Path] | None,
    key: bytes,
    anchor_path: Path,
    *,
    log_path: Path,
    pruned_start: bool = False,
) -> Verification:
    """Verify a chain and compare its end with the anchor at `anchor_path`.

    `paths` None means the log at `log_path` and its rotated files. Holding the writers' lock
    (shared) for a moment, the anchor is read, the files are listed and the live one opened, so
    the anchor is never newer than the log read after it (writers append, then anchor, both
    under that lock) and a rotation meanwhile cannot shift a file out from under the list.
    """
    invalid: AnchorError | None = None
    with _shared_lock(lock_path(log_path)):
        try:
            anchor = read_anchor(anchor_path, key)
        except AnchorError as exc:
            anchor, invalid = None, exc
        files = chain_paths(log_path) if paths is None else list(paths)
        live = _snapshot(files[-1]) if files else None
    try:
        result = verify_chain(
            files, key, pruned_start=pruned_start, anchor=anchor, log_path=log_path, live=live
        )
    finally:
        if live is not None:
            live[0].close()
    if not result.intact:
        return result  # a break in the chain itself comes first (a wrong key shows there)
    if invalid is not None:
        message = f"the anchor is not valid: {invalid}"
        result.broken = Break(anchor_path, 1, Reason.ANCHOR_INVALID, message)
    elif anchor is None and result.records:
        result.broken = Break(
            anchor_path,
            1,
            Reason.ANCHOR_MISSING,
            f"no anchor for a log of {result.records} records: it was deleted (or never "
            "written), so records cut off the end of the log cannot be ruled out",
        )
    return result


@contextlib.contextmanager
def _shared_lock(path: Path) -> Iterator[None]:
    fd = -1
    # Without access to the lock file (another user, a read-only copy) read unlocked: a writer
    # caught between append and anchor update then looks one record ahead, which is allowed.
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        fcntl.flock(fd, fcntl.LOCK_SH)
    try:
        yield
    finally:
        if fd >= 0:
            os.close(fd)


def _snapshot(path: Path) -> tuple[BinaryIO, int] | None:
    """The live file, opened, and its size now: what was written up to the anchor read."""
    try:
        file = path.open("rb")
    except FileNotFoundError:
        return None
    return file, os.fstat(file.fileno()).st_size


def verify_chain(
    paths: list[Path],
    key: bytes,
    *,
    pruned_start: bool = False,
    anchor: Anchor | None = None,
    log_path: Path | None = None,
    live: tuple[BinaryIO, int] | None = None,
) -> Verification:
    """Verify `paths` (oldest first) as one chain; stop at the first break.

    `pruned_start` accepts a chain whose oldest records were removed on purpose (retention):
    the first record's own mac is still checked, but not that it is record 1. With an
    `anchor`, the chain must hold the anchored record and end at it or one record later.
    `live`, if given, is the last file already opened and how much of it to read.
    """
    result = Verification(files=list(paths), anchor_seq=anchor.seq if anchor else None)
    last_mac = GENESIS_PREV
    last_file: Path | None = None
    last_line = 0
    lines = _lines(paths, live)
    for line in lines:
        last_line = line.number if line.file == paths[-1] else 0
        if not line.raw.endswith(b"\n"):
            if line.file != paths[-1]:
                result.broken = Break(
                    line.file,
                    line.number,
                    Reason.PARTIAL_RECORD,
                    "a record without its newline in a rotated file: cut short by a writer "
                    "that stopped mid-write, or bytes appended to the log",
                )
                return result
            result.partial.append(PartialRecord(line.file, line.number))
            continue
        try:
            record = _parse(line.raw, key)
            if last_file is not None or not pruned_start:
                _check_link(record, line, result.last_seq, last_mac, last_file, lines)
            if anchor is not None and record["seq"] == anchor.seq and record["mac"] != anchor.mac:
                raise _Invalid(
                    Reason.ANCHOR_MISMATCH,
                    f"record seq {anchor.seq} is not the one the anchor sealed at {anchor.ts}: "
                    "the log was replaced or rewritten",
                )
        except _Invalid as invalid:
            result.broken = Break(line.file, line.number, invalid.reason, invalid.message)
            return result
        result.records += 1
        result.last_ts = str(record["ts"])
        result.last_seq = int(record["seq"])  # type: ignore[call-overload]
        if result.records == 1:
            result.first_ts, result.first_seq = result.last_ts, result.last_seq
        last_mac = str(record["mac"])
        last_file = line.file
    if anchor is not None:
        end = paths[-1] if paths else (log_path or Path())
        result.broken = _compare_end(result, anchor, end, last_line + 1)
    return result


def _compare_end(result: Verification, anchor: Anchor, file: Path, line: int) -> Break | None:
    if result.last_seq < anchor.seq:
        cut = (
            str(anchor.seq)
            if anchor.seq == result.last_seq + 1
            else f"{result.last_seq + 1}..{anchor.seq}"
        )
        return Break(
            file,
            line,
            Reason.TRUNCATED,
            f"the log ends at seq {result.last_seq} but the anchor sealed seq {anchor.seq} at "
            f"{anchor.ts}: records {cut} were cut off, or the log was deleted or replaced by "
            "an older copy",
        )
    if result.last_seq > anchor.seq + 1:
        return Break(
            file,
            line,
            Reason.ANCHOR_STALE,
            f"the log goes on to seq {result.last_seq} but the anchor seals seq {anchor.seq}: "
            "the anchor was rolled back (or not updated), so a cut-off tail could not show",
        )
    return None


def _lines(paths: list[Path], live: tuple[BinaryIO, int] | None) -> Iterator[_Line]:
    for path in paths:
        if live is not None and path == paths[-1]:
            file, size = live
        else:
            file, size = path.open("rb"), -1
        read = 0
        with file:
            for number, raw in enumerate(file, start=1):
                if 0 <= size <= read:
                    break  # appended after the anchor was read: not part of this check
                read += len(raw)
                yield _Line(path, number, raw)


def _parse(raw: bytes, key: bytes) -> dict[str, object]:
    try:
        record = json.loads(raw, object_pairs_hook=_unique_keys, parse_int=_json_number)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _Invalid(Reason.BAD_JSON, f"not valid JSON (truncated or edited): {exc}") from None
    if not isinstance(record, dict):
        raise _Invalid(Reason.BAD_RECORD, "not a JSON object")
    fields = set(record)
    if fields != set(RECORD_FIELDS):
        missing, extra = set(RECORD_FIELDS) - fields, fields - set(RECORD_FIELDS)
        raise _Invalid(
            Reason.BAD_RECORD, f"fields missing: {sorted(missing)}, unexpected: {sorted(extra)}"
        )
    seq = record["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise _Invalid(Reason.BAD_RECORD, "seq is not a positive integer")
    for name in _TEXT:
        if not isinstance(record[name], str):
            raise _Invalid(Reason.BAD_RECORD, f"{name} is not a string")
    for name in _OPTIONAL_TEXT:
        if record[name] is not None and not isinstance(record[name], str):
            raise _Invalid(Reason.BAD_RECORD, f"{name} is not a string or null")
    if not isinstance(record["details"], dict):
        raise _Invalid(Reason.BAD_RECORD, "details is not an object")
    try:
        expected = record_mac(key, record)
    except rfc8785.CanonicalizationError as exc:
        raise _Invalid(Reason.BAD_RECORD, f"cannot be canonicalized: {exc}") from None
    if not hmac.compare_digest(expected, str(record["mac"])):
        raise _Invalid(
            Reason.MAC_MISMATCH,
            f"record seq {seq}: mac does not match its content "
            "(a field was edited, or AUDIT_KEY is not the key this log was written with)",
        )
    return record


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    # A duplicated key would let other tools read a different value than the one verified.
    record = dict(pairs)
    if len(record) != len(pairs):
        raise ValueError("duplicate key in object")
    return record


def _json_number(text: str) -> int | float:
    # RFC 8785 numbers are IEEE doubles: the writer's 2.0**53 is written "9007199254740992",
    # which must read back as that double, not as an int outside the exact range.
    number = int(text)
    return number if abs(number) <= _MAX_EXACT_INT else float(number)


def _check_link(
    record: dict[str, object],
    line: _Line,
    last_seq: int,
    last_mac: str,
    last_file: Path | None,
    rest: Iterator[_Line],
) -> None:
    seq = int(record["seq"])  # type: ignore[call-overload]
    expected = last_seq + 1
    if last_file is None:
        if seq != 1 or record["prev"] != GENESIS_PREV:
            raise _Invalid(
                Reason.CHAIN_START,
                f"the chain starts at seq {seq}, not 1: older records or files are missing",
            )
        return
    if line.file != last_file and (seq != expected or record["prev"] != last_mac):
        raise _Invalid(
            Reason.FILE_BOUNDARY,
            f"{line.file.name} starts at seq {seq} but {last_file.name} ended at seq "
            f"{last_seq}: a rotated file is missing, out of order or from another log",
        )
    if seq > expected:
        found = _find_seq(rest, expected)
        if found is not None:
            raise _Invalid(
                Reason.REORDERED,
                f"seq {seq} where {expected} was expected; seq {expected} is at "
                f"{found.file.name}:{found.number} (records reordered)",
            )
        missing = str(expected) if seq == expected + 1 else f"{expected}..{seq - 1}"
        raise _Invalid(Reason.SEQ_GAP, f"seq jumps from {last_seq} to {seq}: {missing} deleted")
    if seq < expected:
        raise _Invalid(
            Reason.REORDERED,
            f"seq {seq} after seq {last_seq}: a record was moved or replayed",
        )
    if record["prev"] != last_mac:
        raise _Invalid(
            Reason.PREV_MISMATCH,
            f"record seq {seq} does not chain to seq {last_seq} (spliced from another log)",
        )


def _find_seq(rest: Iterator[_Line], seq: int) -> _Line | None:
    for line in rest:
        try:
            record = json.loads(line.raw)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("seq") == seq:
            return line
    return None
