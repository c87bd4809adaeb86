"""Unpack a `.tgz`/`.tar`/`.zip` into a directory without trusting it: names that are absolute
or climb out (`..`), links and device files are refused, and the number of files and the bytes
written are capped while reading (declared sizes are not trusted), so a zip bomb stops at the
cap instead of filling the disk."""

from __future__ import annotations

import shutil
import stat
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

ARCHIVE_SUFFIXES = (".tgz", ".tar.gz", ".tar", ".zip", ".skill")
CHUNK = 1 << 16


class ArchiveError(Exception):
    """The archive is refused; the message says why."""


@dataclass(frozen=True)
class ArchiveLimits:
    max_files: int = 20_000
    max_bytes: int = 256 << 20
    max_ratio: int = 200  # uncompressed / compressed, per zip entry


def is_archive(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(ARCHIVE_SUFFIXES)


def _safe_name(name: str) -> PurePosixPath:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise ArchiveError(f"entry {name!r} would be written outside the archive's directory")
    return path


class _Budget:
    def __init__(self, limits: ArchiveLimits) -> None:
        self.limits = limits
        self.files = 0
        self.bytes = 0

    def copy(self, source: IO[bytes], target: Path, name: str) -> None:
        self.files += 1
        if self.files > self.limits.max_files:
            raise ArchiveError(f"more than {self.limits.max_files} files")
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("xb") as out:
            while chunk := source.read(CHUNK):
                self.bytes += len(chunk)
                if self.bytes > self.limits.max_bytes:
                    raise ArchiveError(
                        f"unpacks to more than {self.limits.max_bytes} bytes (at {name!r})"
                    )
                out.write(chunk)


def _tar_members(archive: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    while (member := archive.next()) is not None:
        yield member


def unpack(path: Path, destination: Path, limits: ArchiveLimits | None = None) -> None:
    """Unpack `path` into the empty directory `destination`; `ArchiveError` on anything unsafe."""
    budget = _Budget(limits or ArchiveLimits())
    try:
        if path.name.lower().endswith((".zip", ".skill")):
            _unzip(path, destination, budget)
        else:
            _untar(path, destination, budget)
    except ArchiveError:
        shutil.rmtree(destination, ignore_errors=True)
        raise
    except (OSError, tarfile.TarError, zipfile.BadZipFile, EOFError, ValueError) as exc:
        shutil.rmtree(destination, ignore_errors=True)
        raise ArchiveError(f"cannot unpack {path.name}: {exc}") from exc


def _untar(path: Path, destination: Path, budget: _Budget) -> None:
    with tarfile.open(path, "r:*") as archive:
        for member in _tar_members(archive):
            name = _safe_name(member.name)
            if member.isdir():
                continue
            if not member.isfile():
                raise ArchiveError(f"entry {member.name!r} is a link or device, not a file")
            source = archive.extractfile(member)
            if source is None:
                raise ArchiveError(f"entry {member.name!r} cannot be read")
            target = destination / name
            budget.copy(source, target, member.name)
            target.chmod(stat.S_IMODE(member.mode) & 0o755 | 0o600)


def _unzip(path: Path, destination: Path, budget: _Budget) -> None:
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            name = _safe_name(info.filename)
            if info.is_dir():
                continue
            mode = info.external_attr >> 16
            if stat.S_IFMT(mode) and not stat.S_ISREG(mode):
                raise ArchiveError(f"entry {info.filename!r} is a link or device, not a file")
            if info.flag_bits & 0x1:
                raise ArchiveError(f"entry {info.filename!r} is encrypted (password-protected)")
            if info.file_size > CHUNK and info.file_size > budget.limits.max_ratio * max(
                info.compress_size, 1
            ):
                ratio = info.file_size // max(info.compress_size, 1)
                raise ArchiveError(f"entry {info.filename!r} expands {ratio}x: a zip bomb")
            with archive.open(info) as source:
                budget.copy(source, destination / name, info.filename)
