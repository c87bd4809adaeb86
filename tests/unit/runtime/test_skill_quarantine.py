"""Finding quarantined skills in OpenClaw's directories and moving them into the vault."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from openclaw_secure_stack.runtime.skill_quarantine import (
    QuarantinedSkill,
    QuarantineListError,
    bundled_skill_dirs,
    move_to_vault,
    quarantined_skills,
    skill_name,
)

EVIL = [QuarantinedSkill("evil-skill", None)]


def write_skill(directory: Path, front_matter: str | None = None, file: str = "SKILL.md") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    text = f"---\n{front_matter}\n---\nbody\n" if front_matter is not None else "no front matter\n"
    (directory / file).write_text(text, encoding="utf-8")
    (directory / "run.sh").write_text("echo hi\n", encoding="utf-8")
    return directory


def write_list(path: Path, document: object) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_skill_entries_are_read_and_other_kinds_ignored(tmp_path: Path) -> None:
    """Only `skill` entries count; `path` is kept when given."""
    document = {
        "schema": 1,
        "entries": [
            {"kind": "skill", "name": "a", "reason": "r", "path": "/x/a"},
            {"kind": "tool", "name": "exec", "reason": "r"},
            {"kind": "skill", "name": "b", "reason": "r"},
        ],
    }
    assert quarantined_skills(write_list(tmp_path / "q.json", document)) == [
        QuarantinedSkill("a", Path("/x/a")),
        QuarantinedSkill("b", None),
    ]


@pytest.mark.parametrize(
    "content",
    [
        None,
        "not json",
        json.dumps([]),
        json.dumps({"schema": 2, "entries": []}),
        json.dumps({"schema": 1}),
        json.dumps({"schema": 1, "entries": [{"kind": "skill", "reason": "no name"}]}),
        json.dumps({"schema": 1, "entries": [{"kind": "skill", "name": "a", "path": 3}]}),
    ],
)
def test_an_unusable_list_stops_up(tmp_path: Path, content: str | None) -> None:
    """Missing, malformed or wrong-schema lists are errors naming QUARANTINE_LIST_PATH."""
    path = tmp_path / "q.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(QuarantineListError, match=r"^QUARANTINE_LIST_PATH: "):
        quarantined_skills(path)


@pytest.mark.parametrize(
    ("front_matter", "expected"),
    [
        ("name: evil-skill", "evil-skill"),
        ('name: "evil-skill"\ndescription: x', "evil-skill"),
        ("description: x", "dir-name"),
        (None, "dir-name"),
    ],
)
def test_skill_name_is_the_front_matter_name_else_the_directory(
    tmp_path: Path, front_matter: str | None, expected: str
) -> None:
    """As OpenClaw names skills: front matter `name`, falling back to the directory name."""
    assert skill_name(write_skill(tmp_path / "dir-name", front_matter)) == expected


@pytest.mark.parametrize(
    "location",
    [
        "workspace/skills/evil-skill",
        "workspace/.agents/skills/group/evil-skill",
        "state/skills/renamed",
        "state/agents/main/agent/workshop-skills/evil-skill",
        "home/.agents/skills/a/b/c/evil-skill",
        "workspace/skills/EVIL-SKILL",
    ],
)
def test_every_copy_under_the_gateway_dir_moves_to_the_vault(tmp_path: Path, location: str) -> None:
    """By front-matter name or directory name, in any root and depth, files and all."""
    root = tmp_path / "openclaw"
    source = write_skill(root / location, "name: evil-skill")
    write_skill(root / "workspace" / "skills" / "good", "name: good")
    vault = tmp_path / "quarantine"
    (move,) = move_to_vault(root, vault, EVIL)
    assert move.source == source and not source.exists()
    (batch,) = vault.iterdir()
    assert move.destination == batch / location
    assert (move.destination / "run.sh").read_text() == "echo hi\n"
    assert (root / "workspace" / "skills" / "good" / "SKILL.md").is_file()


def test_a_decoy_skill_above_does_not_shield_one_below(tmp_path: Path) -> None:
    """A SKILL.md higher up (even a quarantined one) does not stop the search below it."""
    root = tmp_path / "openclaw"
    write_skill(root / "workspace", "name: decoy")
    inner = write_skill(root / "workspace" / "skills" / "evil-skill", "name: evil-skill")
    (move,) = move_to_vault(root, tmp_path / "vault", EVIL)
    assert move.source == inner
    outer = write_skill(root / "state" / "evil-skill", "name: evil-skill")
    write_skill(outer / "nested" / "evil-skill", "name: evil-skill")
    (move,) = move_to_vault(root, tmp_path / "vault", EVIL)
    assert move.source == outer
    assert (move.destination / "nested" / "evil-skill" / "SKILL.md").is_file()


def test_a_skill_is_found_by_its_listed_path_under_any_name(tmp_path: Path) -> None:
    """An entry's `path` ties it to a directory whatever the skill calls itself."""
    root = tmp_path / "openclaw"
    source = write_skill(root / "workspace" / "skills" / "innocent", "name: innocent")
    (move,) = move_to_vault(root, tmp_path / "vault", [QuarantinedSkill("x", source)])
    assert move.source == source and not source.exists()


def test_symlinks_are_not_followed_and_nothing_else_moves(tmp_path: Path) -> None:
    """A symlink into the vault or elsewhere is left alone; no quarantined name, no move."""
    root = tmp_path / "openclaw"
    elsewhere = write_skill(tmp_path / "elsewhere" / "evil-skill", "name: evil-skill")
    (root / "workspace" / "skills").mkdir(parents=True)
    (root / "workspace" / "skills" / "link").symlink_to(elsewhere)
    assert move_to_vault(root, tmp_path / "vault", EVIL) == []
    assert (elsewhere / "SKILL.md").is_file()
    assert move_to_vault(root, tmp_path / "vault", []) == []


def test_bundled_skills_of_a_quarantined_name_are_found(tmp_path: Path) -> None:
    """In the package's skills/ and custodian-skills/, not in other folders."""
    package = tmp_path / "openclaw"
    bundled = write_skill(package / "skills" / "evil-skill", "name: evil-skill")
    custodian = write_skill(package / "custodian-skills" / "x", "name: evil-skill")
    write_skill(package / "docs" / "evil-skill", "name: evil-skill")
    assert sorted(bundled_skill_dirs(package, EVIL)) == sorted([bundled, custodian])
