"""One file's bytes and text, with byte offsets mapped to lines, and what the analyzers share:
string-literal unescaping and constant folding of string expressions."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import numpy.typing as npt
import re2
from tree_sitter import Node

_ESCAPE = re2.compile(r"\\(?:x([0-9a-fA-F]{2})|u\{([0-9a-fA-F]{1,6})\}|u([0-9a-fA-F]{4})|(.))")
_SIMPLE = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "b": "\b", "f": "\f", "v": "\v"}
# Folding gives up on anything longer: a built name is short.
MAX_FOLDED = 256


def unescape(body: str) -> str:
    """A JavaScript or Python string body with its escapes decoded."""
    if "\\" not in body:
        return body

    def one(match: re2._Match) -> str:
        hex2, braced, hex4, other = match.groups()
        code = hex2 or braced or hex4
        if code:
            value = int(code, 16)
            return chr(value) if value <= 0x10FFFF else ""
        return str(_SIMPLE.get(other, other))

    return str(_ESCAPE.sub(one, body))


@dataclass
class Source:
    data: bytes
    text: str = field(init=False)

    def __post_init__(self) -> None:
        self.text = self.data.decode("utf-8", "replace")

    @cached_property
    def _newlines(self) -> list[int]:
        raw = np.frombuffer(self.data, dtype=np.uint8)
        return list(np.flatnonzero(raw == 10).tolist())

    def line_of_byte(self, offset: int) -> int:
        return bisect.bisect_right(self._newlines, offset - 1) + 1

    @cached_property
    def ascii(self) -> bool:
        return len(self.text) == len(self.data)

    @cached_property
    def _byte_of_char(self) -> npt.NDArray[np.int64]:
        # A character starts at every byte that is not a UTF-8 continuation byte.
        raw = np.frombuffer(self.data, dtype=np.uint8)
        return np.flatnonzero((raw & 0xC0) != 0x80).astype(np.int64)

    def byte_of_char(self, offset: int) -> int:
        """The byte offset of character `offset` of `text` (exact for valid UTF-8)."""
        if self.ascii:
            return offset
        starts = self._byte_of_char
        return int(starts[offset]) if offset < len(starts) else len(self.data)

    @cached_property
    def longest_line(self) -> int:
        bounds = [-1, *self._newlines, len(self.data)]
        return int(np.max(np.diff(np.asarray(bounds)))) if len(bounds) > 1 else len(self.data)

    @property
    def minified(self) -> bool:
        """Minified or bundled: very long lines (a bundler's or minifier's output)."""
        return self.longest_line > 1000


def node_text(node: Node) -> str:
    raw = node.text
    return raw.decode("utf-8", "replace") if raw is not None else ""
