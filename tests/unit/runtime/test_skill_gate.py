"""`up` scans what OpenClaw would load before starting it and quarantines what is malicious."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from openclaw_secure_stack.quarantine import ACK_PHRASE
from openclaw_secure_stack.quarantine.configured import open_quarantine, plugin_list_path
from openclaw_secure_stack.runtime.skill_gate import gate_skills, loadable_units
from openclaw_secure_stack.scanner import load_configured_scanner
from openclaw_secure_stack.settings import Settings

SKILLS = Path(__file__).parents[2] / "security" / "scanner" / "skills"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=tmp_path / "data", audit_log_path=tmp_path / "audit.jsonl"
    )


def _install(settings: Settings, kind: str, name: str, where: str) -> Path:
    target = settings.data_dir / "openclaw" / where / name
    shutil.copytree(SKILLS / kind / name, target)
    return target


def _listed(settings: Settings) -> list[str]:
    document = json.loads(plugin_list_path(settings.data_dir).read_text())
    return [entry["name"] for entry in document["entries"]]


def test_malicious_skills_are_quarantined_before_start(settings: Settings) -> None:
    """A malicious workspace skill and a malicious managed skill are moved to the vault and
    listed; a clean one stays; the plugin is pointed at the written list."""
    evil = _install(settings, "malicious", "reverse-shell", "workspace/skills")
    stealer = _install(settings, "malicious", "stealer-py", "state/skills")
    weather = _install(settings, "benign", "weather", "workspace/skills")
    messages: list[str] = []
    updated = gate_skills(settings, messages.append)
    assert not evil.exists() and not stealer.exists()
    assert weather.is_dir()
    assert _listed(settings) == ["browser-sync", "remote-support"]
    assert updated.quarantine_list_path == plugin_list_path(settings.data_dir)
    assert any("quarantined remote-support" in message for message in messages)
    events = [
        json.loads(line)["event"] for line in settings.audit_log_path.read_text().splitlines()
    ]
    assert events.count("quarantine.add") == 2


def test_an_overridden_skill_stays_while_unchanged(settings: Settings) -> None:
    """A skill someone overrode is not quarantined again while its content is what they
    accepted."""
    evil = _install(settings, "malicious", "reverse-shell", "workspace/skills")
    gate_skills(settings, lambda _: None)
    with open_quarantine(settings, load_configured_scanner(settings)) as quarantine:
        quarantine.override("remote-support", ACK_PHRASE, "erin")
    gate_skills(settings, lambda _: None)
    assert evil.is_dir()
    assert _listed(settings) == []
    (evil / "SKILL.md").write_text((evil / "SKILL.md").read_text() + "\nmore\n")
    gate_skills(settings, lambda _: None)
    assert not evil.exists()


def test_static_list_entries_are_kept(settings: Settings, tmp_path: Path) -> None:
    """Entries of the hand-written QUARANTINE_LIST_PATH stay on the plugin's list."""
    static = tmp_path / "static.json"
    static.write_text(
        json.dumps(
            {
                "schema": 1,
                "entries": [{"kind": "skill", "name": "sky-report", "reason": "hand-written"}],
            }
        )
    )
    gate_skills(settings.model_copy(update={"quarantine_list_path": static}), lambda _: None)
    assert _listed(settings) == ["sky-report"]


def test_loadable_units_are_topmost_skills_and_plugins(tmp_path: Path) -> None:
    """A skill's own subfolders are part of it; plugins (local extensions, and the packages an
    `openclaw plugins install` project depends on, not their dependencies) are units too."""
    root = tmp_path / "openclaw"
    for path in ("workspace/skills/a", "workspace/skills/a/nested", "state/skills/b"):
        (root / path).mkdir(parents=True)
        (root / path / "SKILL.md").write_text("---\nname: x\n---\n")
    (root / "state" / "extensions" / "plugin-c").mkdir(parents=True)
    project = root / "state" / "npm" / "projects" / "at-scope-d"
    (project / "node_modules" / "@scope" / "d").mkdir(parents=True)
    (project / "node_modules" / "left-pad").mkdir(parents=True)
    (project / "package.json").write_text('{"dependencies": {"@scope/d": "1.0.0"}}')
    assert list(loadable_units(root)) == [
        root / "state/skills/b",
        root / "workspace/skills/a",
        root / "state/extensions/plugin-c",
        project / "node_modules/@scope/d",
    ]
