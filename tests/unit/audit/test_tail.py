"""LogTail: the newest lines of the chain, then whatever is appended, across rotation."""

import json

from openclaw_secure_stack.audit.tail import LogTail
from openclaw_secure_stack.audit.testing import write_events


def ids(lines: list[bytes]) -> list[str]:
    return [json.loads(line)["request_id"] for line in lines]


def test_recent_reaches_into_rotated_files(tmp_path):
    """recent(n) returns the last n records oldest first, reading older files when needed."""
    path = tmp_path / "audit.jsonl"
    write_events(path, 30, rotate_bytes=1024)
    tail = LogTail(path)
    assert ids(tail.recent(12)) == [f"req-{n}" for n in range(18, 30)]
    assert ids(LogTail(path).recent(100)) == [f"req-{n}" for n in range(30)]
    tail.close()


def test_new_lines_follow_appends_and_rotation(tmp_path):
    """new_lines() returns exactly the records written since, including the rotated-away ones."""
    path = tmp_path / "audit.jsonl"
    write_events(path, 2, rotate_bytes=1024)
    tail = LogTail(path)
    tail.recent(1)
    assert tail.new_lines() == []
    write_events(path, 12, rotate_bytes=1024)  # rotates at least twice
    first = [json.loads(line)["seq"] for line in tail.new_lines()]
    write_events(path, 12, rotate_bytes=1024)
    second = [json.loads(line)["seq"] for line in tail.new_lines()]
    tail.close()
    assert first + second == list(range(3, 27))


def test_unfinished_line_waits_for_its_newline(tmp_path):
    """A line still being written is held back until its newline arrives, then returned whole."""
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b'{"seq":1}\n{"seq":')
    tail = LogTail(path)
    assert tail.recent(5) == [b'{"seq":1}\n']
    assert tail.new_lines() == []
    with path.open("ab") as file:
        file.write(b'2}\n{"seq":3}\n')
    assert tail.new_lines() == [b'{"seq":2}\n', b'{"seq":3}\n']
    tail.close()


def test_missing_log_gives_nothing(tmp_path):
    """Tailing a log that does not exist yet returns nothing until it appears."""
    path = tmp_path / "audit.jsonl"
    tail = LogTail(path)
    assert tail.recent(5) == []
    write_events(path, 1)
    assert ids(tail.new_lines()) == ["req-0"]
    tail.close()
