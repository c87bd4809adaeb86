"""What is one unit: a skill (a directory with SKILL.md), a package (with package.json), a single
file, or an archive of one of those. A directory that is none of these is a directory of units:
each child directory, archive or file is scanned on its own."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from openclaw_secure_stack.scanner.archive import ArchiveError, ArchiveLimits, is_archive, unpack

SKILL_FILE = "SKILL.md"
UnitKind = Literal["skill", "package", "file", "directory"]


class InputError(Exception):
    """The path to scan does not exist or cannot be read."""


@dataclass(frozen=True)
class Unit:
    label: str  # what the user named: a path, or an archive's path
    root: Path  # where its files are on disk now (an archive's are in a temporary directory)
    kind: UnitKind
    # Why an archive in a folder of units was refused (it is reported, the others scanned).
    refused: str | None = None


def _has(directory: Path, name: str) -> bool:
    try:
        return any(child.name.lower() == name.lower() for child in directory.iterdir())
    except OSError:
        return False


def _root_of_unpacked(directory: Path) -> Path:
    """npm packs put everything under `package/`; many zips have one top folder."""
    children = [child for child in directory.iterdir() if not child.name.startswith(".")]
    if len(children) == 1 and children[0].is_dir():
        return children[0]
    return directory


def kind_of(path: Path) -> UnitKind:
    if not path.is_dir():
        return "file"
    if _has(path, SKILL_FILE):
        return "skill"
    if _has(path, "package.json"):
        return "package"
    return "directory"


def is_collection(path: Path) -> bool:
    """A directory that is not itself a unit: scanned as one unit per child."""
    return path.is_dir() and kind_of(path) == "directory"


@contextmanager
def discover(path: Path, limits: ArchiveLimits | None = None) -> Iterator[list[Unit]]:
    """The units under `path`; archives are unpacked for as long as the context lasts.
    Raises `InputError` (missing path) and `ArchiveError` (an archive given directly); an
    archive refused inside a folder of units becomes a unit that says why."""
    if not path.exists() and not path.is_symlink():
        raise InputError(f"{path} does not exist")
    with ExitStack() as stack:

        def opened(candidate: Path) -> Unit:
            if is_archive(candidate):
                scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="oss-scan-")))
                unpack(candidate, scratch, limits)
                root = _root_of_unpacked(scratch)
                return Unit(str(candidate), root, kind_of(root))
            return Unit(str(candidate), candidate, kind_of(candidate))

        def member(candidate: Path) -> Unit:
            try:
                return opened(candidate)
            except ArchiveError as exc:
                return Unit(str(candidate), candidate, "file", refused=str(exc))

        if is_collection(path):
            children = sorted(child for child in path.iterdir() if not child.name.startswith("."))
            yield [member(child) for child in children if not child.is_symlink()]
        else:
            yield [opened(path)]
