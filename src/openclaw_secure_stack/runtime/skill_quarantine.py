"""Quarantined skills are taken out of OpenClaw's reach before it starts, not matched in commands.

A skill is a directory holding `SKILL.md`; OpenClaw finds one anywhere up to six levels below any
of its skill roots (`<workspace>/skills`, `<workspace>/.agents/skills`, `<state>/skills`,
`<state>/agents/<id>/agent/workshop-skills`, `~/.agents/skills`, the skill library under the
state directory, bundled and plugin skills) and names it by the `name` in its front matter, or
by its directory. Matching the path in a tool call cannot hold: `cd skills && sh evil/run.sh`, a
glob, a variable, `./` segments or a symlink all name the same files differently.

So before OpenClaw starts, for each `skill` entry of the quarantine list:
- every skill directory under OpenClaw's own directory (its whole writable area in the sandbox,
  every root above included) whose front-matter name, directory name or path matches is moved
  into the vault, `DATA_DIR/quarantine/`, which is not mounted in the sandbox: no command
  OpenClaw runs can read, list or link to it;
- bundled skills of that name, in the read-only install, are hidden in the sandbox by an empty
  directory mounted over them;
- the config disables the name (`skills.entries.<name>.enabled: false`; the config is read-only
  in the sandbox), so a copy written back later under that name is not loaded either. A copy
  that declares another `metadata.openclaw.skillKey` escapes this layer: it is a new skill,
  which only the scanner can judge.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

SKILL_FILE = "SKILL.md"
# OpenClaw's bundled skill roots inside its package.
BUNDLED_ROOTS = ("skills", "custodian-skills")


class QuarantineListError(Exception):
    """The quarantine list cannot be read; nothing is started without it."""


@dataclass(frozen=True)
class QuarantinedSkill:
    name: str
    path: Path | None


@dataclass(frozen=True)
class VaultMove:
    source: Path
    destination: Path


def vault_dir(data_dir: Path) -> Path:
    return data_dir.resolve() / "quarantine"


def quarantined_skills(path: Path) -> list[QuarantinedSkill]:
    """The `skill` entries of the quarantine list at `path`; raises `QuarantineListError`."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise QuarantineListError(f"QUARANTINE_LIST_PATH: cannot read {path}: {exc}") from exc
    entries = document.get("entries") if isinstance(document, dict) else None
    if (
        not isinstance(document, dict)
        or document.get("schema") != 1
        or not isinstance(entries, list)
    ):
        raise QuarantineListError(
            f"QUARANTINE_LIST_PATH: {path} is not a schema-1 quarantine list "
            '({"schema": 1, "entries": [...]})'
        )
    skills = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or entry.get("kind") != "skill":
            continue
        name, where = entry.get("name"), entry.get("path")
        if not isinstance(name, str) or not name or not isinstance(where, str | None):
            raise QuarantineListError(
                f"QUARANTINE_LIST_PATH: {path}: entries[{index}] needs a skill name "
                "(and path, if any, as text)"
            )
        skills.append(QuarantinedSkill(name, Path(where) if where else None))
    return skills


def skill_name(skill_dir: Path) -> str:
    """The name OpenClaw gives the skill: front matter `name`, else the directory name."""
    try:
        with (skill_dir / SKILL_FILE).open(encoding="utf-8", errors="replace") as handle:
            lines = handle.read(64 * 1024).splitlines()
    except OSError:
        return skill_dir.name
    if lines and lines[0].strip() == "---":
        for line in lines[1:]:
            if line.strip() == "---":
                break
            key, _, value = line.partition(":")
            if key.strip() == "name" and value.strip():
                return value.strip().strip("\"'")
    return skill_dir.name


def skill_dirs(root: Path) -> Iterator[Path]:
    """Every directory under `root` holding a SKILL.md (any case), without following symlinks.

    Unlike OpenClaw's discovery this does not stop below a SKILL.md: a decoy one higher up must
    not shield a quarantined skill from the move.
    """
    for directory, _subdirs, files in os.walk(root):
        if any(name.lower() == SKILL_FILE.lower() for name in files):
            yield Path(directory)


def matches(skill_dir: Path, skills: Sequence[QuarantinedSkill]) -> bool:
    names = {skill_dir.name.lower(), skill_name(skill_dir).lower()}
    resolved = skill_dir.resolve()
    return any(
        skill.name.lower() in names or (skill.path is not None and skill.path.resolve() == resolved)
        for skill in skills
    )


def move_to_vault(
    reachable: Path, vault: Path, skills: Sequence[QuarantinedSkill]
) -> list[VaultMove]:
    """Move every quarantined skill directory under `reachable` into a new folder of `vault`."""
    if not skills or not reachable.is_dir():
        return []
    found = [directory for directory in skill_dirs(reachable) if matches(directory, skills)]
    # A match inside another match moves with it.
    found = [path for path in found if not any(other in path.parents for other in found)]
    moves = []
    batch = vault / datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    for source in found:
        destination = batch / source.relative_to(reachable)
        destination.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        shutil.move(source, destination)
        moves.append(VaultMove(source, destination))
    return moves


def bundled_skill_dirs(package: Path, skills: Sequence[QuarantinedSkill]) -> list[Path]:
    """Quarantined skills shipped inside the (read-only) OpenClaw package."""
    return [
        directory
        for root in BUNDLED_ROOTS
        if (package / root).is_dir()
        for directory in skill_dirs(package / root)
        if matches(directory, skills)
    ]
