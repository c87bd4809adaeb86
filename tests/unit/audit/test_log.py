"""AuditLog: sealed records, one chain across writers and rotation, clear errors on failure."""

import json
import multiprocessing
import os
from pathlib import Path

import pytest
import re2
import rfc8785
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openclaw_secure_stack.audit.anchor import default_anchor_path
from openclaw_secure_stack.audit.log import (
    GENESIS_PREV,
    AuditLog,
    AuditLogError,
    canonical_json,
    chain_paths,
    last_lines,
    record_mac,
)
from openclaw_secure_stack.audit.redact import REDACTED
from openclaw_secure_stack.audit.sink import AuditEvent
from openclaw_secure_stack.audit.testing import TEST_KEY, UNLIMITED
from openclaw_secure_stack.audit.verify import verify_chain

RFC3339_UTC = re2.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def read(path: Path) -> list[dict]:
    return [
        json.loads(line) for file in chain_paths(path) for line in file.read_bytes().splitlines()
    ]


def event(number: int = 0, **details: object) -> AuditEvent:
    return AuditEvent("proxy.request", "allow", "alice", f"req-{number}", details or {"n": number})


def test_records_carry_fields_and_chain(tmp_path):
    """Each line has the nine fields; prev links to the previous mac, from the genesis value."""
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, TEST_KEY, UNLIMITED)
    for number in range(3):
        log.write(event(number))
    records = read(path)
    assert [list(record) for record in records] == [
        ["actor", "details", "event", "outcome", "prev", "request_id", "seq", "ts", "mac"]
    ] * 3
    assert [record["seq"] for record in records] == [1, 2, 3]
    assert [record["prev"] for record in records] == [
        GENESIS_PREV,
        records[0]["mac"],
        records[1]["mac"],
    ]
    assert all(record["mac"] == record_mac(TEST_KEY, record) for record in records)
    assert all(RFC3339_UTC.match(record["ts"]) for record in records)
    assert records[2] | {"ts": "", "prev": "", "mac": ""} == {
        "seq": 3,
        "ts": "",
        "event": "proxy.request",
        "actor": "alice",
        "request_id": "req-2",
        "outcome": "allow",
        "details": {"n": 2},
        "prev": "",
        "mac": "",
    }


def test_roundtrip_verifies(tmp_path):
    """What the log writes, verify_chain accepts in full."""
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, TEST_KEY, UNLIMITED)
    for number in range(50):
        log.write(event(number))
    report = verify_chain(chain_paths(path), TEST_KEY)
    assert (report.intact, report.records, report.last_seq, report.partial) == (True, 50, 50, [])


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    details=st.dictionaries(st.text(), JSON_VALUES, max_size=5),
    actor=st.none() | st.text(),
    name=st.text(),
)
def test_written_bytes_are_rfc8785_of_the_record(tmp_path, details, actor, name):
    """Each line minus its mac is byte for byte rfc8785.dumps of the parsed record."""
    path = tmp_path / "canonical.jsonl"
    path.unlink(missing_ok=True)
    default_anchor_path(path).unlink(missing_ok=True)  # else the writer chains on from it
    AuditLog(path, TEST_KEY, UNLIMITED).write(AuditEvent(name, "allow", actor, None, details))
    line = path.read_bytes()
    assert verify_chain([path], TEST_KEY).records == 1
    record = json.loads(line, parse_float=float, parse_int=float)
    mac = record.pop("mac")
    assert line == rfc8785.dumps(record)[:-1] + b',"mac":"' + mac.encode() + b'"}\n'


@pytest.mark.parametrize(
    "bad_event",
    [
        AuditEvent(5, "allow"),  # type: ignore[arg-type]
        AuditEvent("e", "allow", actor=7),  # type: ignore[arg-type]
    ],
)
def test_mistyped_event_fields_raise(tmp_path, bad_event):
    """An event whose name, outcome, actor or request id is not text is refused, not written."""
    path = tmp_path / "audit.jsonl"
    with pytest.raises(AuditLogError, match="must be"):
        AuditLog(path, TEST_KEY, UNLIMITED).write(bad_event)
    assert not path.exists() or path.read_bytes() == b""


def test_secrets_in_details_are_redacted_on_write(tmp_path):
    """A caller that passes a raw token in details still gets nothing secret on disk."""
    path = tmp_path / "audit.jsonl"
    AuditLog(path, TEST_KEY, UNLIMITED).write(
        event(authorization="Bearer tok-123", headers={"x-api-key": "sk-9"})
    )
    assert b"tok-123" not in path.read_bytes() and b"sk-9" not in path.read_bytes()
    assert read(path)[0]["details"] == {
        "authorization": REDACTED,
        "headers": {"x-api-key": REDACTED},
    }


@pytest.mark.parametrize("bad", [{1, 2}, float("nan"), 2**60, object()])
def test_details_that_are_not_json_raise_and_write_nothing(tmp_path, bad):
    """Details that cannot be canonical JSON raise AuditLogError and leave the log unchanged."""
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, TEST_KEY, UNLIMITED)
    log.write(event(1))
    before = path.read_bytes()
    with pytest.raises(AuditLogError, match="details cannot be written as JSON"):
        log.write(event(2, value=bad))
    assert path.read_bytes() == before
    log.write(event(3))
    assert [record["seq"] for record in read(path)] == [1, 2]


def test_two_writers_interleaved_stay_one_chain(tmp_path):
    """Two AuditLog objects on one path (as two processes would) re-read the head and never fork."""
    path = tmp_path / "audit.jsonl"
    first, second = AuditLog(path, TEST_KEY, 2048), AuditLog(path, TEST_KEY, 2048)
    for number in range(40):
        (first if number % 3 else second).write(event(number))
    assert len(chain_paths(path)) > 2
    report = verify_chain(chain_paths(path), TEST_KEY)
    assert (report.intact, report.records) == (True, 40)


def test_forked_children_get_their_own_lock(tmp_path):
    """A writer created before fork still serializes correctly with its forked children."""
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, TEST_KEY, 4096)
    log.write(event(0))
    context = multiprocessing.get_context("fork")
    children = [context.Process(target=_write_many, args=(log, 200)) for _ in range(2)]
    for child in children:
        child.start()
    _write_many(log, 200)
    for child in children:
        child.join(30)
        assert child.exitcode == 0
    report = verify_chain(chain_paths(path), TEST_KEY)
    assert (report.intact, report.records) == (True, 601)


def _write_many(log: AuditLog, count: int) -> None:
    for number in range(count):
        log.write(event(number))


def test_rotation_continues_the_chain(tmp_path):
    """Past rotate_bytes the file is renamed .000001, .000002...; seq and prev continue."""
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, TEST_KEY, 1024)
    for number in range(20):
        log.write(event(number))
    files = chain_paths(path)
    assert [file.name for file in files[:2]] == ["audit.jsonl.000001", "audit.jsonl.000002"]
    assert files[-1] == path
    assert all(file.stat().st_size <= 1024 for file in files)
    last_of_first = json.loads(files[0].read_bytes().splitlines()[-1])
    first_of_second = json.loads(files[1].read_bytes().splitlines()[0])
    assert first_of_second["seq"] == last_of_first["seq"] + 1
    assert first_of_second["prev"] == last_of_first["mac"]


def test_new_writer_continues_from_rotated_file(tmp_path):
    """With the current file gone after rotation, a new writer continues the newest rotated one."""
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, TEST_KEY, UNLIMITED)
    for number in range(3):
        log.write(event(number))
    path.rename(path.with_name("audit.jsonl.000001"))
    AuditLog(path, TEST_KEY, UNLIMITED).write(event(9))
    report = verify_chain(chain_paths(path), TEST_KEY)
    assert (report.intact, report.records, len(report.files)) == (True, 4, 2)


def test_check_passes_on_a_usable_log(tmp_path):
    """check() creates the directory and returns quietly when the log can be written."""
    log = AuditLog(tmp_path / "new" / "dir" / "audit.jsonl", TEST_KEY, UNLIMITED)
    log.check()
    assert (tmp_path / "new" / "dir").is_dir()


def test_check_fails_when_directory_cannot_exist(tmp_path):
    """check() raises AuditLogError naming the path when the log directory is a file."""
    (tmp_path / "blocker").write_text("")
    log = AuditLog(tmp_path / "blocker" / "audit.jsonl", TEST_KEY, UNLIMITED)
    with pytest.raises(AuditLogError, match=r"blocker/audit\.jsonl"):
        log.check()
    with pytest.raises(AuditLogError):
        log.write(event())


def test_unreadable_last_record_fails_closed(tmp_path):
    """A garbage last line stops writing (and /ready) with a message pointing at audit verify."""
    path = tmp_path / "audit.jsonl"
    AuditLog(path, TEST_KEY, UNLIMITED).write(event())
    with path.open("ab") as file:
        file.write(b"garbage\n")
    log = AuditLog(path, TEST_KEY, UNLIMITED)
    with pytest.raises(AuditLogError, match="audit verify"):
        log.check()
    with pytest.raises(AuditLogError, match="last record is unreadable"):
        log.write(event())


def test_short_key_is_refused(tmp_path):
    """A key shorter than 32 bytes is a ValueError at construction."""
    with pytest.raises(ValueError, match="at least 32 bytes"):
        AuditLog(tmp_path / "audit.jsonl", b"short", UNLIMITED)


def test_last_lines_skips_partial_and_reaches_back(tmp_path):
    """last_lines returns whole lines only, oldest first, however far back it has to read."""
    path = tmp_path / "lines"
    lines = [b"x" * 3000 + b"\n", b"short\n", b"y" * 5000 + b"\n"]
    path.write_bytes(b"".join(lines) + b"partial")
    fd = os.open(path, os.O_RDONLY)
    try:
        size = path.stat().st_size
        assert last_lines(fd, size, 1) == [lines[2]]
        assert last_lines(fd, size, 5) == lines
        assert last_lines(fd, size, 0) == []
    finally:
        os.close(fd)


@settings(max_examples=300)
@given(
    value=st.recursive(
        st.none()
        | st.booleans()
        | st.integers(-(2**53) + 1, 2**53 - 1)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text()
        | st.sampled_from(["\ud800", "a\udfffb", '\x00\x08\x1f\x7f\u2028"\\', "\U0001f600"])
        | st.sampled_from([2**53, -(2**53), 2**53 - 1, True]),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.tuples(inner, inner)
            | st.dictionaries(st.text(max_size=3), inner, max_size=4)
        ),
        max_leaves=12,
    )
)
def test_canonical_json_is_rfc8785(value):
    """The fast encoder gives rfc8785's bytes, or rfc8785's refusal (lone surrogates)."""
    try:
        expected = rfc8785.dumps(value)
    except rfc8785.CanonicalizationError:
        with pytest.raises(rfc8785.CanonicalizationError):
            canonical_json(value)
        return
    assert canonical_json(value) == expected


@pytest.mark.parametrize("fsync", [True, False], ids=["fsync-on", "fsync-off"])
def test_sync_flushes_the_log_file_only_with_fsync_on(tmp_path, monkeypatch, fsync):
    """sync() fdatasyncs the file the records went to (fsync on), or costs nothing (off);
    write() itself never syncs."""
    path = tmp_path / "audit.jsonl"
    calls: list[int] = []
    monkeypatch.setattr(os, "fdatasync", lambda fd: calls.append(os.fstat(fd).st_ino))
    log = AuditLog(path, TEST_KEY, UNLIMITED, fsync=fsync)
    log.write(event())
    assert calls == []
    log.sync()
    assert calls == ([path.stat().st_ino] if fsync else [])


def test_rotation_syncs_the_file_it_rotates_away(tmp_path, monkeypatch):
    """With fsync on, a file is synced before rotation, so a sync of the new live file covers
    every record written before it."""
    path = tmp_path / "audit.jsonl"
    calls: list[int] = []
    monkeypatch.setattr(os, "fdatasync", lambda fd: calls.append(os.fstat(fd).st_ino))
    log = AuditLog(path, TEST_KEY, 1024, fsync=True)
    log.write(event(0))
    first = path.stat().st_ino
    while len(chain_paths(path)) < 2:
        log.write(event(1))
    assert calls == [first]


def test_failed_sync_raises(tmp_path, monkeypatch):
    """A sync that fails raises AuditLogError (the caller must not act on the record)."""

    def broken(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fdatasync", broken)
    log = AuditLog(tmp_path / "audit.jsonl", TEST_KEY, UNLIMITED, fsync=True)
    log.write(event())
    with pytest.raises(AuditLogError, match="cannot sync: Input/output error"):
        log.sync()
