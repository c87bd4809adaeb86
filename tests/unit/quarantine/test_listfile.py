"""The list written from the database is one the prompt-guard plugin's own parser accepts."""

from __future__ import annotations

import json
from pathlib import Path

from openclaw_secure_stack import resources
from openclaw_secure_stack.quarantine import QuarantineStore, write_list
from openclaw_secure_stack.quarantine.store import Entry
from openclaw_secure_stack.runtime.node import find_node
from openclaw_secure_stack.runtime.stack import load_quarantine_list
from openclaw_secure_stack.settings import Settings


def _entry(name: str, kind: str, status: str = "quarantined") -> Entry:
    return Entry(
        name=name,
        kind=kind,
        original_path=f"/srv/openclaw/workspace/skills/{name}",
        vault_path=f"/srv/vault/{name}",
        verdict="malicious",
        score=0,
        sha256="ab" * 32,
        findings=(),
        status=status,  # type: ignore[arg-type]
        reason="scan: malicious",
    )


def test_plugin_parses_the_written_list(tmp_path: Path) -> None:
    """Skill and plugin entries from the database, plus the static list, parse in the plugin;
    overridden units are not on it; no temporary file is left beside it."""
    store = QuarantineStore(tmp_path / "q.db")
    for entry in (_entry("evil-skill", "skill"), _entry("evil-plugin", "package")):
        store.put(entry)
    store.put(_entry("accepted", "skill", "overridden"))
    target = tmp_path / "guard" / "quarantine.json"
    assert write_list(store, resources.QUARANTINE_LIST, target) == 2
    settings = Settings(_env_file=None, quarantine_list_path=target)  # type: ignore[call-arg]
    assert load_quarantine_list(settings, find_node()) == 2
    kinds = {e["name"]: e["kind"] for e in json.loads(target.read_text())["entries"]}
    assert kinds == {"evil-skill": "skill", "evil-plugin": "plugin"}
    assert [path.name for path in target.parent.iterdir()] == ["quarantine.json"]
    store.close()
