"""verify_chain: the exact reason for each malformed record, and the summary of an intact chain."""

import json
from pathlib import Path

import pytest

from openclaw_secure_stack.audit.log import chain_paths, record_mac
from openclaw_secure_stack.audit.testing import TEST_KEY, write_events
from openclaw_secure_stack.audit.verify import Break, Reason, verify_chain


@pytest.fixture
def path(tmp_path: Path) -> Path:
    log = tmp_path / "audit.jsonl"
    write_events(log, 3)
    return log


def replace_line(path: Path, index: int, new: bytes) -> None:
    lines = path.read_bytes().splitlines(keepends=True)
    lines[index] = new
    path.write_bytes(b"".join(lines))


def resealed(path: Path, index: int, **changes: object) -> bytes:
    """Line `index` changed and given a valid mac, as only a key holder could."""
    record = json.loads(path.read_bytes().splitlines()[index]) | changes
    record["mac"] = record_mac(TEST_KEY, record)
    return json.dumps(record).encode() + b"\n"


def test_intact_summary(path):
    """An intact chain reports records, last seq and the first and last timestamps."""
    report = verify_chain([path], TEST_KEY)
    records = [json.loads(line) for line in path.read_bytes().splitlines()]
    assert report.as_json() == {
        "intact": True,
        "records": 3,
        "files": [str(path)],
        "first_seq": 1,
        "first_ts": records[0]["ts"],
        "last_ts": records[2]["ts"],
        "last_seq": 3,
        "break": None,
        "partial_records": [],
        "anchor_seq": None,
    }


def test_empty_file_is_an_intact_empty_chain(tmp_path):
    """A file with no records yet (just rotated) is intact with zero records."""
    empty = tmp_path / "audit.jsonl"
    empty.write_bytes(b"")
    report = verify_chain([empty], TEST_KEY)
    assert (report.intact, report.records, report.first_ts) == (True, 0, None)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"[1, 2]\n", "not a JSON object"),
        (b'{"seq": 1}\n', "fields missing"),
        (b"\xff\xfe\n", "not valid JSON"),
        (b"\n", "not valid JSON"),
    ],
)
def test_malformed_lines(path, line, message):
    """Lines that are not records are named with their reason and line number."""
    replace_line(path, 1, line)
    broken = verify_chain([path], TEST_KEY).broken
    assert broken is not None
    assert (broken.file, broken.line) == (path, 2)
    assert broken.reason in {Reason.BAD_JSON, Reason.BAD_RECORD}
    assert message in broken.message


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"seq": True}, "seq is not a positive integer"),
        ({"seq": 0}, "seq is not a positive integer"),
        ({"actor": 5}, "actor is not a string or null"),
        ({"details": []}, "details is not an object"),
        ({"event": None}, "event is not a string"),
    ],
)
def test_mistyped_fields_are_bad_records_even_with_a_valid_mac(path, changes, message):
    """A field of the wrong type is rejected although the record was sealed with the key."""
    replace_line(path, 1, resealed(path, 1, **changes))
    assert verify_chain([path], TEST_KEY).broken == Break(path, 2, Reason.BAD_RECORD, message)


def test_resealed_edit_is_caught_by_the_next_link(path):
    """Even a key holder who re-seals an edited record breaks the next record's prev link."""
    replace_line(path, 1, resealed(path, 1, outcome="deny"))
    broken = verify_chain([path], TEST_KEY).broken
    assert broken == Break(
        path,
        3,
        Reason.PREV_MISMATCH,
        "record seq 3 does not chain to seq 2 (spliced from another log)",
    )


def test_partial_record_in_rotated_file_is_a_break(tmp_path):
    """A torn last line kept in an older file (rotated away by the next writer) is a break."""
    log = tmp_path / "audit.jsonl"
    write_events(log, 2)
    log.write_bytes(log.read_bytes() + b'{"seq":3,"ts')
    write_events(log, 2)  # the writer rotates the torn file away and goes on
    files = chain_paths(log)
    report = verify_chain(files, TEST_KEY)
    assert report.broken == Break(
        files[0],
        3,
        Reason.PARTIAL_RECORD,
        "a record without its newline in a rotated file: cut short by a writer that stopped "
        "mid-write, or bytes appended to the log",
    )
    assert (report.records, report.partial) == (2, [])
