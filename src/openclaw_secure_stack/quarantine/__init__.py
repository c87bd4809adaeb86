"""Quarantine: a SQLite record of flagged units, their files in a vault out of OpenClaw's reach,
the plugin's list written from it, and pins of approved content."""

from __future__ import annotations

from openclaw_secure_stack.quarantine.listfile import ListError, write_list
from openclaw_secure_stack.quarantine.service import ACK_PHRASE, Quarantine, QuarantineError
from openclaw_secure_stack.quarantine.store import Entry, Pin, QuarantineStore, StoreError

__all__ = [
    "ACK_PHRASE",
    "Entry",
    "ListError",
    "Pin",
    "Quarantine",
    "QuarantineError",
    "QuarantineStore",
    "StoreError",
    "write_list",
]
