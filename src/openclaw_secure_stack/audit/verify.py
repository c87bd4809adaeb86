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
  after deliberate pruning, `pruned_start=True` trusts the first record as the anchor instead).

A last line with no newline is a record whose writer was killed mid-write (or the disk filled);
it was never acknowledged, so it is reported as a partial record, not as a break.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import rfc8785

from openclaw_secure_stack.audit.log import GENESIS_PREV, RECORD_FIELDS, record_mac

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


def verify_chain(paths: list[Path], key: bytes, *, pruned_start: bool = False) -> Verification:
    """Verify `paths` (oldest first) as one chain; stop at the first break.

    `pruned_start` accepts a chain whose oldest records were removed on purpose (retention):
    the first record's own mac is still checked, but not that it is record 1.
    """
    result = Verification(files=list(paths))
    last_mac = GENESIS_PREV
    last_file: Path | None = None
    lines = _lines(paths)
    for line in lines:
        if not line.raw.endswith(b"\n"):
            result.partial.append(PartialRecord(line.file, line.number))
            continue
        try:
            record = _parse(line.raw, key)
            if last_file is not None or not pruned_start:
                _check_link(record, line, result.last_seq, last_mac, last_file, lines)
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
    return result


def _lines(paths: list[Path]) -> Iterator[_Line]:
    for path in paths:
        with path.open("rb") as file:
            for number, raw in enumerate(file, start=1):
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
