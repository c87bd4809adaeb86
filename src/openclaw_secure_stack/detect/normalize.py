"""Normalization `nfkc-casefold-v1`: the text rules are matched against, and the way back.

Each code point is mapped on its own (so every normalized character has an original position):
NFKC, lower case, Latin diacritics dropped when the base letter is ASCII, Latin look-alikes from
other scripts folded (Cyrillic U+043E to `o`), and format, combining, tag, variation-selector and
control characters removed (zero-width joiners, bidi controls and U+E0000 tags hide text).
Runs of whitespace then collapse to one space, leading and trailing whitespace go.

Before that, escapes that a browser or a shell would undo are decoded in place: HTML character
references (`&#105;`, `&lt;`), URL escapes (`%69`), and `\\xNN` / `\\uNNNN` runs.

`normalize()` is the fast path used on every input. `normalize_with_offsets()` gives the same
string plus, for each normalized character, the original span it came from; it is slower and only
runs when a rule has fired and spans are needed. A property test keeps the two identical.
"""

from __future__ import annotations

import html
import re
import unicodedata
from array import array
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote

import re2

NORMALIZATION = "nfkc-casefold-v1"

# Latin look-alikes that NFKC leaves alone (Cyrillic, Greek, a few others), after lower-casing.
_LOOKALIKES = (
    "\u0430\u0432\u0435\u0451\u043a\u043c\u043d\u043e\u0440\u0441\u0442\u0443"
    "\u0445\u0455\u0456\u0457\u0458\u0501\u04cf\u04bb\u051b\u051d\u0261\u0251"
    "\u0131\u0237\u03b1\u03b2\u03b5\u03b7\u03b9\u03ba\u03bd\u03bf\u03c1\u03c4"
    "\u03c5\u03c7\u03c9\u03f2\u03f3\u057d\u0585\u1d00\u0299\u1d04\u1d05\u1d07"
    "\u0262\u029c\u026a\u1d0a\u1d0b\u029f\u1d0d\u0274\u1d0f\u1d18\u0280\ua731"
    "\u1d1b\u1d1c\u1d20\u1d21\u028f\u1d22"
)
CONFUSABLES: dict[str, str] = dict(
    zip(
        _LOOKALIKES,
        "abeekmhopctyxsiijdlhqwgaijabenikvoptuxwcjuoabcdeghijklmnoprstuvwyz",
        strict=True,
    )
)

_DROPPED_CATEGORIES = frozenset({"Cf", "Mn", "Me", "Cs", "Co"})

# Escapes decoded before normalizing. Bounded repetition keeps each match small.
# Runs of escapes are one token each, so a flood of them costs one decode, not one per escape.
_ESCAPE = re2.compile(
    r"(?:&(?:#[0-9]{1,7};?|#[xX][0-9a-fA-F]{1,6};?|[A-Za-z][A-Za-z0-9]{1,31};))+"
    r"|(?:%[0-9A-Fa-f]{2})+|(?:\\x[0-9a-fA-F]{2})+|(?:\\u[0-9a-fA-F]{4})+"
)
_ESCAPE_BYTES = re2.compile(_ESCAPE.pattern.encode())
_ESCAPE_MARKERS = ("&", "%", "\\")


def _dropped(char: str) -> bool:
    category = unicodedata.category(char)
    return category in _DROPPED_CATEGORIES or (category == "Cc" and not char.isspace())


@lru_cache(maxsize=65536)
def fold_char(char: str) -> str:
    """The normalized form of one code point (possibly empty, possibly several characters)."""
    if _dropped(char):
        return ""
    out = []
    for part in unicodedata.normalize("NFKC", char).lower():
        if _dropped(part):
            continue
        bare = "".join(c for c in unicodedata.normalize("NFD", part) if not _dropped(c))
        if bare.isascii() and bare:
            out.append(bare)
        else:
            out.append(CONFUSABLES.get(part, part))
    return "".join(out)


class _FoldTable(dict[int, str]):
    """A `str.translate` table filled on first use of each code point."""

    def __missing__(self, code: int) -> str:
        folded = fold_char(chr(code))
        self[code] = folded
        return folded


_FOLD = _FoldTable()
_FOLD.update({code: fold_char(chr(code)) for code in range(128)})
_LATIN1 = re2.Options()  # match raw bytes, not UTF-8
_LATIN1.encoding = re2.Options.Encoding.LATIN1
# Non-ASCII runs located in the UTF-8 bytes: RE2 scans fast, the ASCII between them is untouched.
_NON_ASCII_BYTES = re2.compile(rb"[\x80-\xff]+", _LATIN1)
# ASCII control characters (other than whitespace) are dropped like other invisible characters.
_ASCII_DROPPED = bytes([*range(0x00, 0x09), *range(0x0E, 0x1C), 0x7F])


def _decode_escape(token: str) -> str:
    if token.startswith("&"):
        return html.unescape(token)
    if token.startswith("%"):
        return unquote(token, errors="replace")
    if token.startswith("\\x"):
        raw = bytes(int(token[i + 2 : i + 4], 16) for i in range(0, len(token), 4))
        return raw.decode("utf-8", errors="replace")
    chars = "".join(chr(int(token[i + 2 : i + 6], 16)) for i in range(0, len(token), 6))
    return chars.encode("utf-16", "surrogatepass").decode("utf-16", errors="replace")


@dataclass(frozen=True)
class _Unescaped:
    """Text with escapes decoded, and the replaced pieces to map positions back."""

    text: str
    decoded_starts: list[int]
    pieces: list[tuple[int, int, int, int]]  # (decoded start, decoded end, orig start, orig end)

    def to_original(self, pos: int, *, is_end: bool) -> int:
        # A start belongs to the piece it falls in; an end to the piece it closes.
        if is_end:
            index = bisect_left(self.decoded_starts, pos) - 1
        else:
            index = bisect_right(self.decoded_starts, pos) - 1
        if index < 0:
            return pos
        _, d_end, o_start, o_end = self.pieces[index]
        if pos < d_end or (is_end and pos == d_end):
            return o_end if is_end else o_start
        return o_end + (pos - d_end)


def _unescape(text: str) -> _Unescaped:
    if not any(marker in text for marker in _ESCAPE_MARKERS):
        return _Unescaped(text, [], [])
    parts: list[str] = []
    starts: list[int] = []
    pieces: list[tuple[int, int, int, int]] = []
    cursor = 0
    length = 0
    for match in _ESCAPE.finditer(text):
        token = match.group()
        decoded = _decode_escape(token)
        if decoded == token:
            continue
        start, end = match.span()
        parts.append(text[cursor:start])
        length += start - cursor
        starts.append(length)
        pieces.append((length, length + len(decoded), start, end))
        parts.append(decoded)
        length += len(decoded)
        cursor = end
    if not pieces:
        return _Unescaped(text, [], [])
    parts.append(text[cursor:])
    return _Unescaped("".join(parts), starts, pieces)


def _fold(text: str) -> str:
    # Work on bytes where possible: bytes.lower() and bytes.translate() touch only ASCII and run
    # in C, several times faster than the same on a str that holds non-ASCII characters.
    if text.isascii():
        return _fold_ascii(text.encode("ascii"))
    if len(text) - len(text.encode("ascii", "ignore")) > len(text) // 64:
        return _fold_ascii(text.translate(_FOLD).encode("utf-8", "surrogatepass"))
    encoded = text.encode("utf-8", "surrogatepass")
    parts: list[str] = []
    cursor = 0
    for match in _NON_ASCII_BYTES.finditer(encoded):
        start, end = match.span()
        parts.append(_fold_ascii(encoded[cursor:start]))
        parts.append(encoded[start:end].decode("utf-8", "surrogatepass").translate(_FOLD))
        cursor = end
    parts.append(_fold_ascii(encoded[cursor:]))
    return "".join(parts)


def _fold_ascii(raw: bytes) -> str:
    """Lower-case the ASCII in UTF-8 `raw` and drop ASCII control characters."""
    lowered = raw.lower()
    kept = lowered.translate(None, _ASCII_DROPPED)
    return kept.decode("utf-8", "surrogatepass")


def _unescape_text(text: str) -> str:
    """`_unescape(text).text` without the offset bookkeeping: matched on the UTF-8 bytes, which
    spares the RE2 wrapper's character-offset conversions on non-ASCII text."""
    if not any(marker in text for marker in _ESCAPE_MARKERS):
        return text
    encoded = text.encode("utf-8", "surrogatepass")
    parts: list[str] = []
    cursor = 0
    for match in _ESCAPE_BYTES.finditer(encoded):
        token = match.group().decode("ascii")
        decoded = _decode_escape(token)
        if decoded == token:
            continue
        parts.append(encoded[cursor : match.start()].decode("utf-8", "surrogatepass"))
        parts.append(decoded)
        cursor = match.end()
    if not parts:
        return text
    parts.append(encoded[cursor:].decode("utf-8", "surrogatepass"))
    return "".join(parts)


def fold(text: str) -> str:
    """Escapes decoded and every character folded; whitespace not yet collapsed."""
    return _fold(_unescape_text(text))


def collapse(folded: str) -> str:
    """Whitespace runs to one space, ends trimmed: `fold()` output to normalized text."""
    return " ".join(folded.split())


def normalize(text: str) -> str:
    """The normalized text that rules are matched against."""
    return collapse(fold(text))


@dataclass(frozen=True)
class Normalized:
    """Normalized text with, per character, the original `[start, end)` it came from."""

    text: str
    starts: array[int]
    ends: array[int]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The original span covering normalized `text[start:end]` (end > start)."""
        return self.starts[start], self.ends[end - 1]


def normalize_with_offsets(text: str, limit: int | None = None) -> Normalized:
    """Same text as `normalize()`, with each character's original span; with `limit`, only
    (at least) the first `limit` normalized characters are produced."""
    wanted = len(text) * 4 + 4 if limit is None else limit
    unescaped = _unescape(text)
    source = unescaped.text
    out: list[str] = []
    starts: array[int] = array("q")
    ends: array[int] = array("q")
    space_from = -1  # start of a pending whitespace run, or -1
    space_to = -1
    for match in _TOKEN.finditer(source):
        if len(starts) >= wanted:
            break
        piece = match.group()
        begin = match.start()
        if piece.isspace():
            if space_from < 0:
                space_from = begin
            space_to = match.end()
            continue
        if piece[0] in _PRINTABLE_ASCII:
            if space_from >= 0 and out:
                out.append(" ")
                starts.append(space_from)
                ends.append(space_to)
            space_from = -1
            out.append(piece.lower())
            starts.extend(range(begin, begin + len(piece)))
            ends.extend(range(begin + 1, begin + len(piece) + 1))
            continue
        for char in fold_char(piece):
            if char.isspace():
                if space_from < 0:
                    space_from = begin
                space_to = begin + 1
                continue
            if space_from >= 0 and out:
                out.append(" ")
                starts.append(space_from)
                ends.append(space_to)
            space_from = -1
            out.append(char)
            starts.append(begin)
            ends.append(begin + 1)
    if unescaped.pieces:
        starts = array("q", (unescaped.to_original(p, is_end=False) for p in starts))
        ends = array("q", (unescaped.to_original(p, is_end=True) for p in ends))
    return Normalized("".join(out), starts, ends)


# Printable ASCII runs in bulk, whitespace runs, or one other character.
_TOKEN = re.compile(r"[!-~]+|\s+|.", re.DOTALL)
_PRINTABLE_ASCII = frozenset(chr(code) for code in range(0x21, 0x7F))
