"""The quarantine as the stack runs it: under DATA_DIR, audited into the stack's audit log.

- `DATA_DIR/quarantine/`: the vault (not mounted in OpenClaw's sandbox) and `quarantine.db`;
- `DATA_DIR/guard/quarantine.json`: the list the prompt-guard plugin reads (`up` points the
  plugin at it and mounts its directory read-only, so a rewrite is seen without a restart).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from openclaw_secure_stack.audit.log import AuditLog
from openclaw_secure_stack.quarantine.service import Quarantine
from openclaw_secure_stack.quarantine.store import QuarantineStore
from openclaw_secure_stack.runtime.credentials import prepare_credentials
from openclaw_secure_stack.runtime.skill_quarantine import vault_dir
from openclaw_secure_stack.scanner import Scanner
from openclaw_secure_stack.settings import Settings

DB_NAME = "quarantine.db"


def plugin_list_path(data_dir: Path) -> Path:
    return data_dir.resolve() / "guard" / "quarantine.json"


@contextmanager
def open_quarantine(settings: Settings, scanner: Scanner) -> Iterator[Quarantine]:
    """The stack's quarantine; its audit records go to the stack's audit log (the key comes
    from AUDIT_KEY or DATA_DIR/secrets, created on first use as `up` does). The log is opened
    on the first change only: `up`'s scan that quarantines nothing does not touch it."""
    credentials = prepare_credentials(settings)
    audit = AuditLog(
        settings.audit_log_path,
        credentials.audit_key.encode(),
        settings.audit_rotate_bytes,
        anchor_path=settings.audit_anchor_path,
        fsync=settings.audit_fsync,
    )
    vault = vault_dir(settings.data_dir)
    store = QuarantineStore(vault / DB_NAME)
    try:
        yield Quarantine(
            store=store,
            vault=vault,
            audit=audit,
            static_list=settings.quarantine_list_path,
            plugin_list=plugin_list_path(settings.data_dir),
            scanner_factory=lambda: scanner,
        )
    finally:
        store.close()
        audit.close()
