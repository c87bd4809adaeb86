"""The quarantine list the prompt-guard plugin reads, written from the database.

Schema 1 (the plugin's `Quarantine.parse`): the hand-written static list (`QUARANTINE_LIST_PATH`,
packaged empty by default) plus every unit the database holds as `quarantined`. Written to a
temporary file in the same directory, synced and renamed over the old one, so the plugin, which
re-reads the list when it changes, never sees half a file.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from openclaw_secure_stack.quarantine.store import QuarantineStore


class ListError(Exception):
    """The static list cannot be read; nothing is written."""


def static_entries(path: Path) -> list[dict[str, object]]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ListError(f"QUARANTINE_LIST_PATH: cannot read {path}: {exc}") from exc
    entries = document.get("entries") if isinstance(document, dict) else None
    if not isinstance(entries, list) or document.get("schema") != 1:
        raise ListError(f"QUARANTINE_LIST_PATH: {path} is not a schema-1 quarantine list")
    return [entry for entry in entries if isinstance(entry, dict)]


def plugin_entries(store: QuarantineStore) -> list[dict[str, object]]:
    entries: list[dict[str, object]] = []
    for entry in store.entries("quarantined"):
        item: dict[str, object] = {
            "kind": "plugin" if entry.kind == "package" else "skill",
            "name": entry.name,
            "reason": f"{entry.reason} (verdict {entry.verdict}, score {entry.score})",
            "sha256": entry.sha256,
        }
        if item["kind"] == "skill":
            item["path"] = entry.original_path
        entries.append(item)
    return entries


def write_list(store: QuarantineStore, static: Path, target: Path) -> int:
    """Write the merged list to `target` atomically; returns how many entries it holds."""
    entries = static_entries(static) + plugin_entries(store)
    data = json.dumps({"schema": 1, "entries": entries}, indent=2) + "\n"
    target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".quarantine-")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        Path(temporary).chmod(0o644)
        Path(temporary).replace(target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return len(entries)
