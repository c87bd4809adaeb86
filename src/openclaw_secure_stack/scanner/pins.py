"""The digest a pin records: SHA-256 over a canonical listing of a unit's files.

One line per regular file or symlink, sorted by relative path (forward slashes):
`<path>\\0<mode in octal>\\0<sha256 of the contents, or "link:" + target>\\n`. Renaming, adding,
removing or changing the mode of any file changes the digest, as does any byte of content.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path


def unit_files(root: Path) -> list[Path]:
    """Every regular file and symlink under `root` (or `root` itself), without following links."""
    if not root.is_dir():
        return [root]
    found: list[Path] = []
    for directory, _subdirs, files in os.walk(root):
        found.extend(Path(directory) / name for name in files)
    return sorted(found)


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def line(name: str, mode: int, content: str) -> str:
    """One file's line of the listing: `content` is its SHA-256, or "link:" + a link's target."""
    return f"{name}\0{stat.S_IMODE(mode):o}\0{content}\n"


def listing_digest(lines: list[str]) -> str:
    return hashlib.sha256("".join(sorted(lines)).encode("utf-8", "surrogateescape")).hexdigest()


def digest(root: Path) -> str:
    """The canonical digest of `root` (a directory or one file)."""
    lines = []
    base = root if root.is_dir() else root.parent
    for path in unit_files(root):
        info = path.lstat()
        name = path.relative_to(base).as_posix()
        if stat.S_ISLNK(info.st_mode):
            lines.append(line(name, info.st_mode, "link:" + str(path.readlink())))
        elif stat.S_ISREG(info.st_mode):
            lines.append(line(name, info.st_mode, _file_digest(path)))
    return listing_digest(lines)
