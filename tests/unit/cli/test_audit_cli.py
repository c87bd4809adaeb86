"""`audit verify` and `audit tail` as a user runs them: exit codes, messages, readable output."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from openclaw_secure_stack.audit.log import AuditLog
from openclaw_secure_stack.audit.sink import AuditEvent
from openclaw_secure_stack.audit.testing import TEST_KEY, UNLIMITED, run_cli, write_events

CLI = Path(sys.executable).with_name("openclaw-secure-stack")


@pytest.fixture(autouse=True)
def _no_dotenv(tmp_path, monkeypatch):
    """Run from an empty directory so a developer's .env cannot change the settings."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    path = tmp_path / "audit.jsonl"
    write_events(path, 5)
    return path


def test_verify_names_the_anchored_seq_or_says_it_was_not_compared(log_path):
    """The OK line says which seq the anchor sealed, or that --no-anchor skipped it."""
    anchored = run_cli(["audit", "verify"], log_path=log_path).stdout.strip()
    assert anchored.endswith(", anchored at seq 5")
    unanchored = run_cli(["audit", "verify", "--no-anchor"], log_path=log_path).stdout.strip()
    assert unanchored.endswith(" (not compared with the anchor)")


def test_anchor_without_key_is_a_usage_error(log_path):
    """`audit anchor` without AUDIT_KEY: exit 2 naming the setting; the log is untouched."""
    before = log_path.read_bytes()
    result = run_cli(["audit", "anchor"], log_path=log_path, key=None)
    assert result.exit_code == 2
    assert "AUDIT_KEY: not set" in result.stderr
    assert log_path.read_bytes() == before


def test_verify_without_key_is_a_usage_error(log_path):
    """No AUDIT_KEY: exit 2 and a message naming the setting."""
    result = run_cli(["audit", "verify"], log_path=log_path, key=None)
    assert result.exit_code == 2
    assert "AUDIT_KEY: not set" in result.stderr


def test_usage_error_in_json_format(log_path):
    """With --format json a usage error is a JSON object with the message, still exit 2."""
    result = run_cli(["audit", "verify", "--format", "json"], log_path=log_path, key=None)
    assert result.exit_code == 2
    assert json.loads(result.stdout) == {
        "error": "AUDIT_KEY: not set; verify needs the key the log was written with"
    }


def test_verify_with_short_key_names_the_setting(log_path):
    """An AUDIT_KEY under 32 characters: exit 2 and the settings error with the fix."""
    result = run_cli(["audit", "verify"], log_path=log_path, key=b"short")
    assert result.exit_code == 2
    assert "AUDIT_KEY: Value error, must be at least 32 characters" in result.stderr


def test_verify_without_log_is_a_usage_error(tmp_path):
    """Nothing at AUDIT_LOG_PATH: exit 2 naming the path."""
    result = run_cli(["audit", "verify"], log_path=tmp_path / "none.jsonl")
    assert result.exit_code == 2
    assert f"no audit log at {tmp_path / 'none.jsonl'}" in result.stderr


def test_verify_missing_explicit_path_is_a_usage_error(log_path, tmp_path):
    """A PATH argument that does not exist: exit 2, not a verification failure."""
    result = run_cli(["audit", "verify", str(log_path), str(tmp_path / "x")], log_path=log_path)
    assert result.exit_code == 2
    assert f"{tmp_path / 'x'}: no such file" in result.stderr


def test_tail_prints_readable_lines(tmp_path):
    """tail shows time, seq, event, actor, outcome, request id and short details per event."""
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, TEST_KEY, UNLIMITED)
    log.write(AuditEvent("proxy.request", "deny", "alice", "r-1", {"path": "/v1/x", "status": 403}))
    log.write(AuditEvent("proxy.request", "allow", None, None, {"note": "y" * 200}))
    ts = [json.loads(line)["ts"] for line in path.read_bytes().splitlines()]
    result = run_cli(["audit", "tail"], log_path=path)
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        f"{ts[0][:10]} {ts[0][11:19]}Z  #1  proxy.request  alice  deny  r-1  path=/v1/x status=403",
        f"{ts[1][:10]} {ts[1][11:19]}Z  #2  proxy.request  -  allow  -  note={'y' * 74}…",
    ]


def test_tail_escapes_terminal_control_characters(tmp_path):
    """Attacker text with ANSI escapes or bidi overrides is shown escaped, never interpreted."""
    path = tmp_path / "audit.jsonl"
    AuditLog(path, TEST_KEY, UNLIMITED).write(
        AuditEvent("proxy.request", "deny", "a\u202eb", None, {"path": "/\x1b[2J\x9b1m"})
    )
    result = run_cli(["audit", "tail"], log_path=path)
    assert "\x1b" not in result.stdout and "\x9b" not in result.stdout
    assert "\u202e" not in result.stdout
    assert "a\\u202eb" in result.stdout and "path=/\\x1b[2J\\x9b1m" in result.stdout


def test_tail_json_and_count(log_path):
    """--format json -n 2 prints the last two records as JSON lines."""
    result = run_cli(["audit", "tail", "-n", "2", "--format", "json"], log_path=log_path)
    assert result.exit_code == 0
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["seq"], r["request_id"]) for r in records] == [(4, "req-3"), (5, "req-4")]


def test_tail_shows_unreadable_lines(log_path):
    """A damaged line is shown as unreadable rather than hidden."""
    with log_path.open("ab") as file:
        file.write(b"not json\n")
    result = run_cli(["audit", "tail", "-n", "1", "--format", "json"], log_path=log_path)
    assert json.loads(result.stdout) == {"unreadable": "not json"}


def test_tail_without_log_is_a_usage_error(tmp_path):
    """tail of a log that does not exist: exit 2."""
    result = run_cli(["audit", "tail"], log_path=tmp_path / "none.jsonl")
    assert result.exit_code == 2
    assert "no audit log at" in result.stderr


def test_tail_follow_prints_new_events(log_path):
    """tail --follow prints the backlog, then events written later, until stopped."""
    env = os.environ | {"AUDIT_LOG_PATH": str(log_path), "AUDIT_KEY": TEST_KEY.decode()}
    follower = subprocess.Popen(
        [str(CLI), "audit", "tail", "-n", "1", "--follow", "--format", "json"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert follower.stdout is not None
        assert json.loads(follower.stdout.readline())["seq"] == 5
        write_events(log_path, 3, rotate_bytes=1024)
        seqs = [json.loads(follower.stdout.readline())["seq"] for _ in range(3)]
        assert seqs == [6, 7, 8]
    finally:
        follower.terminate()
        follower.wait(10)
