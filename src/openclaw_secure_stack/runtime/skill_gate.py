"""Before OpenClaw starts, every skill and plugin it would load is scanned.

Under OpenClaw's own directory (`DATA_DIR/openclaw`: workspace skills, managed and workshop
skills; plugins under `state/extensions`, and those `openclaw plugins install` puts in a project
of their own, `state/npm/projects/<project>/node_modules/<plugin>`), each skill folder (the
topmost holding a SKILL.md) and each plugin folder is scanned. A `malicious` one is quarantined
(moved into the vault, recorded, audited), and a pinned one whose content changed is quarantined
until it is re-approved. A unit someone overrode stays, as long as its content is what they
accepted. Then the plugin's list is written from the database and the plugin is pointed at it:
the returned settings name `DATA_DIR/guard/quarantine.json` as the list, which later
`quarantine` commands rewrite while OpenClaw runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

from openclaw_secure_stack.quarantine.configured import open_quarantine, plugin_list_path
from openclaw_secure_stack.runtime.skill_quarantine import skill_dirs
from openclaw_secure_stack.scanner import Unit, load_configured_scanner
from openclaw_secure_stack.scanner.units import kind_of
from openclaw_secure_stack.settings import Settings

ACTOR = "up"


def loadable_units(root: Path) -> Iterator[Path]:
    """Skill folders (topmost only: a skill's own subfolders are part of it) and plugin
    folders under OpenClaw's directory."""
    skills = sorted(skill_dirs(root)) if root.is_dir() else []
    for skill in skills:
        if not any(other in skill.parents for other in skills):
            yield skill
    plugins: list[Path] = []
    extensions = root / "state" / "extensions"
    if extensions.is_dir():
        plugins.extend(sorted(path for path in extensions.iterdir() if path.is_dir()))
    projects = root / "state" / "npm" / "projects"
    if projects.is_dir():
        for project in sorted(projects.iterdir()):
            plugins.extend(installed_packages(project))
    for plugin in plugins:
        if not any(plugin in s.parents or s == plugin for s in skills):
            yield plugin


def installed_packages(project: Path) -> list[Path]:
    """The packages an npm project installs directly (its package.json dependencies): the
    plugin, with its own dependencies inside it or beside it."""
    try:
        document = json.loads((project / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    dependencies = document.get("dependencies") if isinstance(document, dict) else None
    if not isinstance(dependencies, dict):
        return []
    found = [project / "node_modules" / name for name in sorted(dependencies)]
    return [path for path in found if path.is_dir() and ".." not in Path(path.name).parts]


def gate_skills(settings: Settings, report: Callable[[str], None]) -> Settings:
    """Scan and quarantine before start; returns the settings with the plugin's list in place."""
    scanner = load_configured_scanner(settings)
    root = settings.data_dir.resolve() / "openclaw"
    with open_quarantine(settings, scanner) as quarantine:
        for pin, state in quarantine.verify_pins():
            if state == "changed":
                report(f"pinned {pin.name} changed: quarantined until re-approved")
        for path in loadable_units(root):
            result = scanner.scan_unit(Unit(str(path), path, kind_of(path)))
            known = quarantine.store.get(result.unit)
            if known is not None and known.status == "overridden" and known.sha256 == result.sha256:
                continue
            if result.verdict == "malicious":
                quarantine.quarantine(result, path, "up: scan found it malicious", ACTOR)
                report(f"quarantined {result.unit} ({path}): malicious, score {result.score}")
            elif result.verdict == "review":
                report(f"scanned {result.unit}: review, score {result.score} (`scan {path}`)")
        entries = quarantine.publish()
    report(f"quarantine list: {entries} entries")
    return settings.model_copy(update={"quarantine_list_path": plugin_list_path(settings.data_dir)})
