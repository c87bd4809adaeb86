"""The pin digest covers names, modes and contents: any change changes it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from openclaw_secure_stack.scanner.pins import digest


def _skill(root: Path) -> Path:
    (root / "scripts").mkdir(parents=True)
    (root / "SKILL.md").write_text("---\nname: s\n---\nhello\n")
    (root / "scripts/run.sh").write_text("echo hi\n")
    return root


def test_digest_is_stable_and_location_independent(tmp_path: Path) -> None:
    """The same files give the same digest wherever they are."""
    assert digest(_skill(tmp_path / "a")) == digest(_skill(tmp_path / "b"))


@pytest.mark.parametrize(
    "change",
    [
        lambda root: (root / "SKILL.md").write_text("---\nname: s\n---\nhello!\n"),
        lambda root: (root / "scripts/run.sh").rename(root / "scripts/run2.sh"),
        lambda root: (root / "extra.txt").write_text(""),
        lambda root: (root / "scripts/run.sh").chmod(0o755),
        lambda root: (root / "scripts/run.sh").unlink(),
        lambda root: (root / "link").symlink_to("SKILL.md"),
    ],
    ids=["content", "rename", "added", "mode", "removed", "symlink"],
)
def test_any_change_changes_the_digest(tmp_path: Path, change: Callable[[Path], object]) -> None:
    """Content, names, modes, added, removed and linked files all change the digest."""
    root = _skill(tmp_path / "a")
    (root / "scripts/run.sh").chmod(0o644)
    before = digest(root)
    change(root)
    assert digest(root) != before
