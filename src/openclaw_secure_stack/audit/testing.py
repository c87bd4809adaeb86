"""Helpers for tests that need a real audit log or the `audit` commands against one."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from typer.testing import CliRunner, Result

from openclaw_secure_stack.audit.log import AuditLog
from openclaw_secure_stack.audit.sink import AuditEvent

TEST_KEY = b"test-audit-key-not-for-production-0001"
UNLIMITED = 1 << 40


def write_events(
    path: Path,
    count: int,
    *,
    key: bytes = TEST_KEY,
    rotate_bytes: int = UNLIMITED,
    actor: str = "tester",
) -> None:
    """Append `count` events (`request_id` req-0, req-1, ...) with a writer of its own."""
    log = AuditLog(path, key, rotate_bytes)
    try:
        for number in range(count):
            log.write(AuditEvent("test.event", "allow", actor, f"req-{number}", {"n": number}))
    finally:
        log.close()


def run_cli(args: Sequence[str], *, log_path: Path, key: bytes | None = TEST_KEY) -> Result:
    """Run `openclaw-secure-stack ARGS` with AUDIT_LOG_PATH and AUDIT_KEY (None: unset)."""
    from openclaw_secure_stack.cli.main import app  # the whole CLI: only when a test runs it

    env = {"AUDIT_LOG_PATH": str(log_path), "AUDIT_KEY": key.decode() if key else None}
    return CliRunner().invoke(app, list(args), env=env)
