"""The anchor outside the log: cutting, deleting or replacing the log, or tampering with the
anchor itself, is a named break; writers resume visibly and refuse to run on a lost anchor."""

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from openclaw_secure_stack.audit.anchor import SLOT_BYTES, default_anchor_path
from openclaw_secure_stack.audit.log import AuditLog, AuditLogError, chain_paths
from openclaw_secure_stack.audit.sink import AuditEvent
from openclaw_secure_stack.audit.testing import TEST_KEY, UNLIMITED, run_cli, write_events

RECORDS = 10
WRITER = Path(__file__).with_name("writer_process.py")


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    path = tmp_path / "audit" / "audit.jsonl"
    write_events(path, RECORDS)
    return path


def verify_json(log_path: Path, *args: str, key: bytes = TEST_KEY) -> tuple[int, dict]:
    result = run_cli(["audit", "verify", "--format", "json", *args], log_path=log_path, key=key)
    return result.exit_code, json.loads(result.stdout)


def broken(report: dict) -> tuple[str, int, str]:
    return report["break"]["file"], report["break"]["line"], report["break"]["reason"]


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def records(path: Path) -> list[dict]:
    return [json.loads(line) for file in chain_paths(path) for line in lines_of(file)]


@pytest.mark.parametrize("cut", [1, 2, RECORDS - 1])
def test_tail_truncation_is_a_break(log_path, cut):
    """Removing the last N whole records leaves a valid chain, but not the anchored head."""
    log_path.write_bytes(b"".join(lines_of(log_path)[:-cut]))
    code, report = verify_json(log_path)
    assert code == 1
    assert broken(report) == (str(log_path), RECORDS - cut + 1, "truncated")
    first = RECORDS - cut + 1
    cut_range = str(RECORDS) if cut == 1 else f"{first}..{RECORDS}"
    assert f"records {cut_range} were cut off" in report["break"]["message"]
    assert (report["records"], report["anchor_seq"]) == (RECORDS - cut, RECORDS)


def test_whole_log_deleted_is_a_break_not_a_usage_error(log_path):
    """With the log gone but the anchor left, verify reports the loss (exit 1), naming the log."""
    log_path.unlink()
    code, report = verify_json(log_path)
    assert code == 1
    assert broken(report) == (str(log_path), 1, "truncated")
    assert report["records"] == 0


def test_every_rotated_file_deleted_is_a_break(tmp_path):
    """Deleting the live file and all rotated files of a rotated log is a break too."""
    path = tmp_path / "audit.jsonl"
    write_events(path, 60, rotate_bytes=4096)
    assert len(chain_paths(path)) > 2
    for file in chain_paths(path):
        file.unlink()
    code, report = verify_json(path)
    assert (code, broken(report)) == (1, (str(path), 1, "truncated"))


def test_older_copy_put_back_is_a_break(tmp_path, log_path):
    """Restoring a copy taken before later records were written is caught as truncation."""
    copy = tmp_path / "copy.jsonl"
    shutil.copy(log_path, copy)
    write_events(log_path, 3)
    shutil.copy(copy, log_path)
    code, report = verify_json(log_path)
    assert (code, broken(report)) == (1, (str(log_path), RECORDS + 1, "truncated"))


def test_replacement_by_another_chain_of_the_same_length_is_a_break(tmp_path, log_path):
    """A different, valid chain (same key, same length) in place of the log: anchor mismatch."""
    other = tmp_path / "other" / "audit.jsonl"
    write_events(other, RECORDS, actor="someone-else")
    shutil.copy(other, log_path)
    code, report = verify_json(log_path)
    assert (code, broken(report)) == (1, (str(log_path), RECORDS, "anchor_mismatch"))


def test_deleted_anchor_is_a_break(log_path):
    """A log with records and no anchor cannot rule out truncation: anchor_missing."""
    anchor = default_anchor_path(log_path)
    anchor.unlink()
    code, report = verify_json(log_path)
    assert (code, broken(report)) == (1, (str(anchor), 1, "anchor_missing"))
    assert verify_json(log_path, "--no-anchor")[0] == 0  # an archived copy: chain only


@pytest.mark.parametrize(
    "tamper",
    [
        lambda slot: slot.replace(b'"seq":10', b'"seq":99'),
        lambda slot: slot[:100],
        lambda slot: slot.replace(b" ", b"x", 1),
    ],
    ids=["seq-raised", "cut-short", "padding-edited"],
)
def test_edited_anchor_is_a_break(log_path, tamper):
    """An anchor that is not byte for byte what the writer sealed is anchor_invalid."""
    anchor = default_anchor_path(log_path)
    anchor.write_bytes(tamper(anchor.read_bytes()))
    code, report = verify_json(log_path)
    assert (code, broken(report)) == (1, (str(anchor), 1, "anchor_invalid"))


def test_anchor_sealed_with_another_key_is_a_break(tmp_path, log_path):
    """An anchor forged with another key (and a log to match it would fail its macs anyway)."""
    other = tmp_path / "other" / "audit.jsonl"
    write_events(other, RECORDS, key=b"another-key-0123456789abcdef0123456789")
    shutil.copy(default_anchor_path(other), default_anchor_path(log_path))
    code, report = verify_json(log_path)
    assert (code, report["break"]["reason"]) == (1, "anchor_invalid")


def test_rolled_back_anchor_is_a_break(tmp_path, log_path):
    """An old anchor put back after more records were written: anchor_stale."""
    anchor = default_anchor_path(log_path)
    old = anchor.read_bytes()
    write_events(log_path, 2)
    anchor.write_bytes(old)
    code, report = verify_json(log_path)
    assert (code, broken(report)) == (1, (str(log_path), RECORDS + 3, "anchor_stale"))


def test_one_record_past_the_anchor_is_a_crash_window_not_a_break(log_path):
    """A writer killed between append and anchor update leaves the log one record ahead: OK."""
    anchor = default_anchor_path(log_path)
    old = anchor.read_bytes()
    write_events(log_path, 1)
    anchor.write_bytes(old)
    code, report = verify_json(log_path)
    assert (code, report["records"], report["anchor_seq"]) == (0, RECORDS + 1, RECORDS)


def test_anchor_slot_is_fixed_size_and_tracks_the_head(log_path):
    """The anchor never grows and always seals the last record's seq and mac."""
    anchor = default_anchor_path(log_path)
    assert anchor.stat().st_size == SLOT_BYTES
    sealed = json.loads(anchor.read_bytes())
    last = records(log_path)[-1]
    assert (sealed["seq"], sealed["mac"]) == (last["seq"], last["mac"])


def test_restart_after_truncation_resumes_visibly_from_the_anchor(log_path):
    """A writer starting on a cut-off log chains on from the anchored head: the hole stays
    (seq_gap at the resumed record), and audit.resumed says what log and anchor said."""
    log_path.write_bytes(b"".join(lines_of(log_path)[:-3]))
    log = AuditLog(log_path, TEST_KEY, UNLIMITED)
    log.resume("proxy")
    log.close()
    resumed = records(log_path)[-1]
    assert (resumed["event"], resumed["seq"]) == ("audit.resumed", RECORDS + 1)
    assert resumed["details"] | {"pid": 0} == {
        "state": "log_behind_anchor",
        "log_seq": RECORDS - 3,
        "anchor_seq": RECORDS,
        "prev_seq": RECORDS,
        "prev_mac": resumed["prev"],
        "pid": 0,
    }
    code, report = verify_json(log_path)
    assert (code, broken(report)) == (1, (str(log_path), RECORDS - 2, "seq_gap"))


def test_restart_after_whole_log_deletion_does_not_start_a_fresh_chain(log_path):
    """With the log deleted, a restarted writer continues at the anchored seq: chain_start."""
    log_path.unlink()
    log = AuditLog(log_path, TEST_KEY, UNLIMITED)
    log.resume("proxy")
    log.write(AuditEvent("proxy.request", "allow", "alice", "r", {}))
    log.close()
    assert [record["seq"] for record in records(log_path)] == [RECORDS + 1, RECORDS + 2]
    code, report = verify_json(log_path)
    assert (code, broken(report)) == (1, (str(log_path), 1, "chain_start"))


def test_clean_restart_is_recorded_and_verifies(log_path):
    """An ordinary restart leaves an audit.resumed record (state ok) and an intact chain."""
    log = AuditLog(log_path, TEST_KEY, UNLIMITED)
    log.resume("proxy")
    log.close()
    resumed = records(log_path)[-1]
    assert (resumed["details"]["state"], resumed["details"]["prev_seq"]) == ("ok", RECORDS)
    assert verify_json(log_path)[0] == 0


@pytest.mark.parametrize("damage", ["delete", "edit", "roll_back"])
def test_writer_refuses_a_lost_anchor_until_re_anchored(log_path, damage):
    """Missing, invalid or stale anchor: the writer stops (fail closed) naming the fix; after
    `audit anchor` an audit.reanchored record says what was found and verify passes."""
    anchor = default_anchor_path(log_path)
    if damage == "delete":
        anchor.unlink()
    elif damage == "edit":
        anchor.write_bytes(anchor.read_bytes().replace(b'"seq":10', b'"seq":11'))
    else:
        old = anchor.read_bytes()
        write_events(log_path, 2)
        anchor.write_bytes(old)
    before = log_path.read_bytes()
    log = AuditLog(log_path, TEST_KEY, UNLIMITED)
    with pytest.raises(AuditLogError, match="audit anchor"):
        log.write(AuditEvent("proxy.request", "allow", "alice", "r", {}))
    assert log_path.read_bytes() == before  # nothing was appended
    log.close()

    result = run_cli(
        ["audit", "anchor", "--reason", "restored after incident 7"], log_path=log_path
    )
    assert result.exit_code == 0, result.stdout
    sealed = records(log_path)[-1]
    expected_state = {"delete": "missing", "edit": "invalid", "roll_back": "anchor_stale"}
    assert (sealed["event"], sealed["actor"]) == ("audit.reanchored", "operator")
    assert sealed["details"]["state"] == expected_state[damage]
    assert sealed["details"]["reason"] == "restored after incident 7"
    assert verify_json(log_path)[0] == 0
    AuditLog(log_path, TEST_KEY, UNLIMITED).write(AuditEvent("x", "allow"))  # writes again


def test_re_anchoring_cannot_hide_a_truncation(log_path):
    """`audit anchor` on a cut-off log seals after the anchored head: the gap still shows."""
    log_path.write_bytes(b"".join(lines_of(log_path)[:-2]))
    assert run_cli(["audit", "anchor"], log_path=log_path).exit_code == 0
    code, report = verify_json(log_path)
    assert (code, report["break"]["reason"]) == (1, "seq_gap")


def test_verify_during_concurrent_writes_never_reports_a_false_truncation(tmp_path):
    """verify reads the anchor, lists the files and sizes the live one under the writers' lock,
    so two writers appending and rotating meanwhile never make an intact log look broken."""
    path = tmp_path / "audit.jsonl"
    writers = [
        subprocess.Popen(
            [sys.executable, str(WRITER), str(path), str(16 * 1024), "-1", f"w{n}", "0.0005"],
            stdout=subprocess.DEVNULL,
        )
        for n in range(2)
    ]
    reports = []
    try:
        deadline = time.monotonic() + 20
        while not chain_paths(path) and time.monotonic() < deadline:
            time.sleep(0.01)  # polling for the first file, not ordering
        for _ in range(8):
            reports.append(verify_json(path))
            assert all(writer.poll() is None for writer in writers)  # still racing verify
    finally:
        for writer in writers:
            writer.kill()
            writer.wait()
    assert [(code, report["break"]) for code, report in reports] == [(0, None)] * 8
    counts = [report["records"] for _, report in reports]
    assert counts == sorted(set(counts))
    assert len(reports[-1][1]["files"]) > 1  # rotation happened during the checks
