"""Tampering with the audit log: `audit verify` names the first break (file, line, reason)."""

import json
from pathlib import Path

import pytest

from openclaw_secure_stack.audit.log import AuditLog, record_mac
from openclaw_secure_stack.audit.sink import AuditEvent
from openclaw_secure_stack.audit.testing import TEST_KEY, run_cli, write_events

RECORDS = 10


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    path = tmp_path / "audit" / "audit.jsonl"
    write_events(path, RECORDS)
    return path


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def verify_json(log_path: Path, *args: Path | str, key: bytes = TEST_KEY) -> tuple[int, dict]:
    result = run_cli(
        ["audit", "verify", "--format", "json", *map(str, args)], log_path=log_path, key=key
    )
    return result.exit_code, json.loads(result.stdout)


def assert_break(report: dict, path: Path, line: int, reason: str) -> None:
    assert report["intact"] is False
    assert (report["break"]["file"], report["break"]["line"], report["break"]["reason"]) == (
        str(path),
        line,
        reason,
    )


def test_untouched_log_verifies(log_path):
    """An untouched log verifies with exit 0 and a summary of records, files and times."""
    result = run_cli(["audit", "verify"], log_path=log_path)
    assert result.exit_code == 0
    assert result.stdout.startswith(
        f"OK audit chain intact: {RECORDS} records in 1 file(s), seq 1..{RECORDS}, "
    )


def test_truncated_line_is_bad_json(log_path):
    """A record cut short in the middle of the file is reported as bad JSON at its line."""
    lines = lines_of(log_path)
    lines[3] = lines[3][:40] + b"\n"
    log_path.write_bytes(b"".join(lines))
    code, report = verify_json(log_path)
    assert code == 1
    assert_break(report, log_path, 4, "bad_json")
    assert report["records"] == 3


def test_edited_field_is_mac_mismatch(log_path):
    """Changing one field of a record (deny -> allow style edit) breaks its mac at that line."""
    lines = lines_of(log_path)
    lines[4] = lines[4].replace(b'"outcome":"allow"', b'"outcome":"deny"')
    log_path.write_bytes(b"".join(lines))
    result = run_cli(["audit", "verify"], log_path=log_path)
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0] == (
        f"BROKEN {log_path}:5: mac_mismatch: record seq 5: mac does not match its content "
        "(a field was edited, or AUDIT_KEY is not the key this log was written with)"
    )


def test_deleted_record_is_seq_gap(log_path):
    """Removing a record is reported where the sequence jumps."""
    lines = lines_of(log_path)
    del lines[5]
    log_path.write_bytes(b"".join(lines))
    code, report = verify_json(log_path)
    assert code == 1
    assert_break(report, log_path, 6, "seq_gap")
    assert report["break"]["message"] == "seq jumps from 5 to 7: 6 deleted"


def test_deleted_records_name_the_range(log_path):
    """Removing several records in a row names the whole missing range."""
    lines = lines_of(log_path)
    del lines[2:5]
    log_path.write_bytes(b"".join(lines))
    _, report = verify_json(log_path)
    assert_break(report, log_path, 3, "seq_gap")
    assert report["break"]["message"] == "seq jumps from 2 to 6: 3..5 deleted"


def test_swapped_records_are_reordered(log_path):
    """Swapping two records is reported at the first of them, naming where the other one is."""
    lines = lines_of(log_path)
    lines[2], lines[3] = lines[3], lines[2]
    log_path.write_bytes(b"".join(lines))
    code, report = verify_json(log_path)
    assert code == 1
    assert_break(report, log_path, 3, "reordered")
    assert report["break"]["message"] == (
        "seq 4 where 3 was expected; seq 3 is at audit.jsonl:4 (records reordered)"
    )


def test_replayed_record_is_reordered(log_path):
    """Appending a copy of an old record (a replay) is reported at the copy."""
    lines = lines_of(log_path)
    log_path.write_bytes(b"".join([*lines, lines[1]]))
    code, report = verify_json(log_path)
    assert code == 1
    assert_break(report, log_path, RECORDS + 1, "reordered")


def test_spliced_logs_are_prev_mismatch(tmp_path, log_path):
    """Records from another log with the same key and matching seq do not chain: prev mismatch."""
    other = tmp_path / "other.jsonl"
    write_events(other, RECORDS, actor="someone-else")
    log_path.write_bytes(b"".join(lines_of(log_path)[:5] + lines_of(other)[5:]))
    code, report = verify_json(log_path)
    assert code == 1
    assert_break(report, log_path, 6, "prev_mismatch")


def test_concatenated_logs_are_reordered(tmp_path, log_path):
    """A whole second log appended after the first restarts at seq 1: reported at its first line."""
    other = tmp_path / "other.jsonl"
    write_events(other, 3)
    log_path.write_bytes(log_path.read_bytes() + other.read_bytes())
    _, report = verify_json(log_path)
    assert_break(report, log_path, RECORDS + 1, "reordered")


def test_duplicate_key_is_rejected(log_path):
    """A record with a second, different `outcome` key is rejected although its mac matches."""
    lines = lines_of(log_path)
    lines[6] = lines[6].rstrip(b"}\n") + b',"outcome":"deny"}\n'
    log_path.write_bytes(b"".join(lines))
    _, report = verify_json(log_path)
    assert_break(report, log_path, 7, "bad_json")


def test_removed_mac_field_is_bad_record(log_path):
    """A record stripped of its mac is reported as a malformed record, not skipped."""
    lines = lines_of(log_path)
    record = json.loads(lines[1])
    del record["mac"]
    lines[1] = json.dumps(record).encode() + b"\n"
    log_path.write_bytes(b"".join(lines))
    _, report = verify_json(log_path)
    assert_break(report, log_path, 2, "bad_record")


def test_wrong_key_fails_at_first_record(log_path):
    """Verifying with a different AUDIT_KEY fails at line 1 with a mac mismatch."""
    code, report = verify_json(log_path, key=b"another-key-of-enough-length-0123456789")
    assert code == 1
    assert_break(report, log_path, 1, "mac_mismatch")


def test_rewrite_with_attacker_key_fails(log_path):
    """A consistently re-chained forgery made without AUDIT_KEY fails at its first record."""
    forged_key = b"attacker-chosen-key-0123456789abcdef"
    prev = "0" * 64
    forged = []
    for raw in lines_of(log_path):
        record = json.loads(raw)
        record["actor"], record["prev"] = "nobody", prev
        record["mac"] = prev = record_mac(forged_key, record)
        forged.append(json.dumps(record).encode() + b"\n")
    log_path.write_bytes(b"".join(forged))
    _, report = verify_json(log_path)
    assert_break(report, log_path, 1, "mac_mismatch")


def test_trailing_partial_record_verifies_up_to_it(log_path):
    """A torn record after the anchored head (writer killed mid-write) is a warning, exit 0."""
    lines = lines_of(log_path)
    log_path.write_bytes(b"".join(lines) + lines[-1][:50])
    result = run_cli(["audit", "verify"], log_path=log_path)
    assert result.exit_code == 0
    warning, summary = result.stdout.splitlines()
    assert warning == (
        f"! {log_path}: intact up to line {RECORDS}; trailing partial record at line "
        f"{RECORDS + 1} (a writer stopped mid-write; never acknowledged)"
    )
    assert summary.startswith(
        f"OK audit chain intact: {RECORDS} records in 1 file(s), seq 1..{RECORDS}, "
    )
    strict = run_cli(["audit", "verify", "--strict"], log_path=log_path)
    assert strict.exit_code == 1


def test_acknowledged_record_cut_short_is_truncation(log_path):
    """Cutting the last acknowledged record short is not a torn write: the anchor holds it."""
    lines = lines_of(log_path)
    log_path.write_bytes(b"".join(lines[:-1]) + lines[-1][:50])
    code, report = verify_json(log_path)
    assert code == 1
    assert_break(report, log_path, RECORDS + 1, "truncated")


@pytest.fixture
def rotated(tmp_path: Path) -> list[Path]:
    path = tmp_path / "audit" / "audit.jsonl"
    write_events(path, 120, rotate_bytes=4096)
    files = [*sorted(path.parent.glob("audit.jsonl.0*")), path]
    assert len(files) >= 4
    return files


def test_rotated_chain_verifies_across_files(rotated):
    """Rotation keeps one chain: default verify (rotated files, then the current one) passes."""
    code, report = verify_json(rotated[-1])
    assert code == 0
    assert (report["intact"], report["records"], report["last_seq"]) == (True, 120, 120)
    assert report["files"] == [str(path) for path in rotated]


def test_deleted_middle_file_is_file_boundary(rotated):
    """Deleting a rotated file in the middle is reported at the first line of the next file."""
    rotated[1].unlink()
    code, report = verify_json(rotated[-1])
    assert code == 1
    assert_break(report, rotated[2], 1, "file_boundary")


def test_deleted_oldest_file_is_chain_start(rotated):
    """Deleting the oldest file leaves a chain that does not start at seq 1."""
    rotated[0].unlink()
    _, report = verify_json(rotated[-1])
    assert_break(report, rotated[1], 1, "chain_start")


def test_pruned_oldest_files_verify_only_when_declared(rotated):
    """--allow-pruned-start accepts deleted oldest files, anchored on the first record left."""
    rotated[0].unlink()
    result = run_cli(["audit", "verify", "--allow-pruned-start"], log_path=rotated[-1])
    assert result.exit_code == 0
    first_seq = json.loads(rotated[1].read_bytes().splitlines()[0])["seq"]
    assert result.stdout.startswith(
        f"OK audit chain intact: {121 - first_seq} records in {len(rotated) - 1} file(s), "
        f"seq {first_seq}..120, "
    )


def test_pruned_start_still_catches_later_breaks(rotated):
    """--allow-pruned-start does not excuse a missing middle file or an edited first record."""
    rotated[0].unlink()
    rotated[2].unlink()
    code, report = verify_json(rotated[-1], "--allow-pruned-start")
    assert code == 1
    assert_break(report, rotated[3], 1, "file_boundary")
    lines = lines_of(rotated[1])
    lines[0] = lines[0].replace(b'"actor":"tester"', b'"actor":"mallory"')
    rotated[1].write_bytes(b"".join(lines))
    _, report = verify_json(rotated[-1], "--allow-pruned-start")
    assert_break(report, rotated[1], 1, "mac_mismatch")


def test_files_out_of_order_are_file_boundary(rotated):
    """Files given in the wrong order break at the first file that does not continue."""
    order = [rotated[0], rotated[2], rotated[1], *rotated[3:]]
    _, report = verify_json(rotated[-1], *order)
    assert_break(report, rotated[2], 1, "file_boundary")


def test_truncated_behind_a_running_writer_shows(tmp_path):
    """Emptying the log under a running writer cannot pass: the writer keeps chaining."""
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, TEST_KEY, 1 << 20)
    write_events(path, 5)
    log.write(AuditEvent("test.event", "allow"))
    path.write_bytes(b"")
    log.write(AuditEvent("test.event", "allow"))
    _, report = verify_json(path)
    assert_break(report, path, 1, "chain_start")
