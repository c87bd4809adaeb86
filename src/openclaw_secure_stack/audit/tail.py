"""Read the newest audit records, and the ones appended after them, across rotation.

This is a viewer: it does not check macs (that is `audit verify`'s job).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

from openclaw_secure_stack.audit.log import last_lines, rotated_paths


class LogTail:
    """Follows one log path: first `recent()`, then `new_lines()` as often as wanted."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._file: BinaryIO | None = None
        self._inode = -1
        self._pending = b""  # the start of a line whose writer has not finished it yet

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def recent(self, count: int) -> list[bytes]:
        """The last `count` whole lines of the chain; `new_lines()` continues after them."""
        self._open()
        lines: list[bytes] = []
        if self._file is not None:
            end = self._file.seek(0, os.SEEK_END)
            lines = last_lines(self._file.fileno(), end, count)
            self._pending = _unfinished_line(self._file.fileno(), end)
        for older in reversed(rotated_paths(self._path)):
            if len(lines) >= count:
                break
            with older.open("rb") as file:
                size = os.fstat(file.fileno()).st_size
                lines = last_lines(file.fileno(), size, count - len(lines)) + lines
        return lines

    def new_lines(self) -> list[bytes]:
        """Whole lines appended since the last call, including those of a file rotated away."""
        lines = self._read_more()
        try:
            inode = self._path.stat().st_ino
        except FileNotFoundError:
            return lines
        if inode != self._inode:
            # Rotated: files rotated after ours (several rotations between two calls) come
            # first, whole, then the new current file from its start.
            for newer in self._rotated_after_ours():
                lines += newer.read_bytes().splitlines(keepends=True)
            self.close()
            self._pending = b""
            self._open()
            lines += self._read_more()
        return lines

    def _rotated_after_ours(self) -> list[Path]:
        rotated = rotated_paths(self._path)
        for index, path in enumerate(rotated):
            if path.stat().st_ino == self._inode:
                return rotated[index + 1 :]
        return []

    def _open(self) -> None:
        try:
            self._file = self._path.open("rb")
        except FileNotFoundError:
            self._file = None
            return
        self._inode = os.fstat(self._file.fileno()).st_ino

    def _read_more(self) -> list[bytes]:
        if self._file is None:
            return []
        data = self._pending + self._file.read()
        cut = data.rfind(b"\n") + 1
        self._pending = data[cut:]
        return data[:cut].splitlines(keepends=True)


def _unfinished_line(fd: int, end: int) -> bytes:
    start = max(0, end - 8192)
    chunk = os.pread(fd, end - start, start)
    cut = chunk.rfind(b"\n")
    return chunk[cut + 1 :] if cut >= 0 or start == 0 else b""
