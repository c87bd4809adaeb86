"""Archives are unpacked without trusting them: traversal, links, caps and bombs are refused."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from openclaw_secure_stack.scanner.archive import ArchiveError, ArchiveLimits, unpack


def _tgz(path: Path, members: dict[str, bytes], *, symlink: str | None = None) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        if symlink is not None:
            info = tarfile.TarInfo("link")
            info.type = tarfile.SYMTYPE
            info.linkname = symlink
            archive.addfile(info)
    return path


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_tgz_unpacks_files(tmp_path: Path) -> None:
    """A plain npm-style .tgz unpacks its files under the destination."""
    archive = _tgz(tmp_path / "a.tgz", {"package/package.json": b"{}", "package/i.js": b"1"})
    unpack(archive, tmp_path / "out")
    assert (tmp_path / "out/package/i.js").read_bytes() == b"1"


@pytest.mark.parametrize("name", ["../escape.txt", "/etc/evil", "a/../../b", "C:/x"])
@pytest.mark.parametrize("kind", ["tgz", "zip"])
def test_traversal_is_refused(tmp_path: Path, name: str, kind: str) -> None:
    """Entries that are absolute or climb out are refused and nothing is left behind."""
    build = _tgz if kind == "tgz" else _zip
    archive = build(tmp_path / f"a.{kind}", {"ok.txt": b"x", name: b"y"})
    with pytest.raises(ArchiveError, match="outside"):
        unpack(archive, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()
    assert not (tmp_path / "out").exists()


def test_links_are_refused(tmp_path: Path) -> None:
    """A symlink entry (which could point anywhere) is refused."""
    archive = _tgz(tmp_path / "a.tgz", {"a.txt": b"x"}, symlink="/etc/passwd")
    with pytest.raises(ArchiveError, match="link"):
        unpack(archive, tmp_path / "out")


def test_file_count_cap(tmp_path: Path) -> None:
    """More files than the cap is refused."""
    archive = _zip(tmp_path / "a.zip", {f"f{i}.txt": b"x" for i in range(5)})
    with pytest.raises(ArchiveError, match="more than 4 files"):
        unpack(archive, tmp_path / "out", ArchiveLimits(max_files=4))


def test_byte_cap_counts_what_is_written(tmp_path: Path) -> None:
    """The byte cap counts bytes really unpacked, not the sizes the archive declares."""
    archive = _tgz(tmp_path / "a.tgz", {"big.bin": b"\0" * 100_000})
    with pytest.raises(ArchiveError, match="more than 50000 bytes"):
        unpack(archive, tmp_path / "out", ArchiveLimits(max_bytes=50_000))


def test_zip_bomb_is_refused_before_unpacking(tmp_path: Path) -> None:
    """An entry that expands beyond the ratio cap is refused before it is written."""
    archive = _zip(tmp_path / "bomb.zip", {"zeros": b"\0" * (8 << 20)})
    with pytest.raises(ArchiveError, match="zip bomb"):
        unpack(archive, tmp_path / "out")


def test_encrypted_zip_is_refused(tmp_path: Path) -> None:
    """An encrypted entry cannot be scanned, so the archive is refused."""
    archive = _zip(tmp_path / "a.zip", {"a.txt": b"x"})
    raw = bytearray(archive.read_bytes())
    # Set the "encrypted" general-purpose flag in the local and central headers.
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = raw.find(signature)
        raw[at + offset] |= 0x1
    archive.write_bytes(bytes(raw))
    with pytest.raises(ArchiveError, match="encrypted"):
        unpack(archive, tmp_path / "out")


def test_corrupt_archive_is_an_archive_error(tmp_path: Path) -> None:
    """A file that is not an archive gives ArchiveError, never another exception."""
    path = tmp_path / "a.tgz"
    path.write_bytes(b"not a tarball at all")
    with pytest.raises(ArchiveError, match="cannot unpack"):
        unpack(path, tmp_path / "out")
