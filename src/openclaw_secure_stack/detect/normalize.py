"""Normalization `nfkc-casefold-v1`: the text rules are matched against, and the way back.

Each code point is mapped on its own (so every normalized character has an original position):
NFKC, lower case, Latin diacritics dropped when the base letter is ASCII, Latin look-alikes from
other scripts folded (Cyrillic U+043E to `o`), and format, combining, tag, variation-selector and
control characters removed (zero-width joiners, bidi controls and U+E0000 tags hide text).
Runs of whitespace then collapse to one space, leading and trailing whitespace go.

Before that, escapes that a browser or a shell would undo are decoded in place: HTML character
references (`&#105;`, `&lt;`), URL escapes (`%69`), and `\\xNN` / `\\uNNNN` runs.

`normalize()` is the fast path used on every input. `normalize_with_offsets()` gives the same
string plus, for each normalized character, the original span it came from; it only runs when a
rule has fired and spans are needed. A property test keeps the two identical.

Speed: no Python loop runs per character or per escape. ASCII text is folded with `bytes.lower`
and `bytes.translate`, any other text through a numpy table of every code point's fold
(`_CodeTable`); escape runs are decoded whole (`bytes.fromhex`, numpy for `&#...;`); long ASCII
texts are collapsed in numpy.
"""

from __future__ import annotations

import html
import sys
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
import numpy.typing as npt
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

# Every character `str.isspace()` (and so `str.split()`) knows.
WHITESPACE = "".join(chr(code) for code in range(sys.maxunicode + 1) if chr(code).isspace())
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


class _CodeTable:
    """`fold_char` for every code point as arrays, so whole texts fold in numpy passes.

    Entries are filled on first sight of a code point (each costs one `fold_char` call, ever),
    the result code first and its length last, so a concurrent reader never sees a length
    without its code. `single` holds the folded code of a code point folding to one character,
    0 for one that is dropped, and `SEVERAL` (expands) or `UNSEEN` otherwise."""

    PENDING = 255
    SEVERAL = 0xFFFFFFFE
    UNSEEN = 0xFFFFFFFF

    def __init__(self) -> None:
        self.lengths = np.full(sys.maxunicode + 1, self.PENDING, np.uint8)
        self.single = np.full(sys.maxunicode + 1, self.UNSEEN, np.uint32)
        self.expansions: dict[int, str] = {}
        self.is_space = np.zeros(sys.maxunicode + 1, np.bool_)
        self.is_space[[ord(char) for char in WHITESPACE]] = True

    def _lengths(self, codes: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint8]:
        lengths = self.lengths[codes]
        pending = lengths == self.PENDING
        if pending.any():
            for code in np.unique(codes[pending]).tolist():
                result = _FOLD[code]
                if len(result) > 1:
                    self.expansions[code] = result
                self.single[code] = (
                    self.SEVERAL if len(result) > 1 else ord(result) if result else 0
                )
                self.lengths[code] = len(result)
            lengths = self.lengths[codes]
        return lengths

    def fold_codes(self, codes: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
        """`fold(codes)[0]` in one table lookup when every code is known and none expands."""
        folded = self.single[codes]
        if (folded >= self.SEVERAL).any():
            return self.fold(codes)[0]
        kept: npt.NDArray[np.uint32] = folded[folded != 0]
        return kept

    def fold(
        self, codes: npt.NDArray[np.uint32]
    ) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.intp]]:
        """The folded codes, and for each the index in `codes` of the code it came from."""
        lengths = self._lengths(codes)
        if lengths.max(initial=0) <= 1:
            kept = np.flatnonzero(lengths)
            return self.single[codes[kept]], kept
        origins = np.repeat(np.arange(len(codes)), lengths)
        folded = self.single[codes[origins]]
        multi = np.flatnonzero(lengths > 1)
        ends = np.cumsum(lengths, dtype=np.intp)
        # Grouped by code through one sort, so many distinct expansions stay linear.
        order = np.argsort(codes[multi], kind="stable")
        distinct, firsts, counts = np.unique(
            codes[multi][order], return_index=True, return_counts=True
        )
        for code, first, count in zip(
            distinct.tolist(), firsts.tolist(), counts.tolist(), strict=True
        ):
            chars = _codes(self.expansions[code])
            starts = ends[multi[order[first : first + count]]] - len(chars)
            folded[starts[:, None] + np.arange(len(chars))] = chars
        return folded, origins


_TABLE = _CodeTable()


def _codes(text: str) -> npt.NDArray[np.uint32]:
    if not text:
        return np.zeros(0, np.uint32)
    # A one-element string array holds the code points as they are: no encoding pass, and lone
    # surrogates need no error handler (which "surrogatepass" calls once per surrogate).
    return np.array([text], f"<U{len(text)}").view(np.uint32)


def _text(codes: npt.NDArray[np.uint32]) -> str:
    return codes.tobytes().decode("utf-32-le", "surrogatepass")


# ASCII control characters (other than whitespace) are dropped like other invisible characters.
_ASCII_DROPPED = bytes([*range(0x00, 0x09), *range(0x0E, 0x1C), 0x7F])


class _CharRefs(dict[str, str]):
    """`html.unescape` of one reference (`"lt;"` for `&lt;`), remembered for the common ones."""

    def __missing__(self, body: str) -> str:
        decoded = html.unescape("&" + body)
        if len(self) < 4096:
            self[body] = decoded
        return decoded


_CHARREFS = _CharRefs()
# What `html.unescape` makes of numeric references that are not plain characters.
_CHARREF_FIXES: dict[int, str | None] = {
    **dict.fromkeys(html._invalid_codepoints),  # type: ignore[attr-defined]
    **dict.fromkeys(range(0xD800, 0xE000), "\ufffd"),
    **html._invalid_charrefs,  # type: ignore[attr-defined]
}
_CHARREF_SPECIAL = np.zeros(sys.maxunicode + 2, np.bool_)  # the last entry: out of range
_CHARREF_SPECIAL[[*_CHARREF_FIXES, sys.maxunicode + 1]] = True
# Digit values of the bytes of a reference (a `bytes.translate` table); 255 for '&', '#', 'x', ';'.
_DIGITS = bytes(int(chr(b), 16) if chr(b) in "0123456789abcdefABCDEF" else 255 for b in range(256))
_MAX_DIGITS = 7  # `_ESCAPE` admits 7 decimal or 6 hex digits per reference


def _numeric_references(token: str) -> str | None:
    """A run of numeric references (`&#105;&#x69`) decoded in numpy passes, exactly as
    `html.unescape` does; None if the run holds a named reference too."""
    encoded = token.encode("ascii")
    raw = np.frombuffer(encoded, np.uint8)
    starts = np.flatnonzero(raw == ord("&"))
    if not (raw[starts + 1] == ord("#")).all():
        return None
    values = np.frombuffer((encoded + b"&" * _MAX_DIGITS).translate(_DIGITS), np.uint8)
    hexadecimal = raw[starts + 2] | 0x20 == ord("x")
    base = np.where(hexadecimal, 16, 10)
    # Horner's rule, one digit place at a time for all references: a reference's digits end at
    # its ';' or at the next '&' (never a digit).
    first = starts + 2 + hexadecimal
    numbers = np.zeros(len(starts), np.int64)
    going = np.ones(len(starts), np.bool_)
    for place in range(_MAX_DIGITS):
        digits = values[first + place]
        going &= digits != 255
        if not going.any():
            break
        numbers = np.where(going, numbers * base + digits, numbers)
    codes = np.minimum(numbers, sys.maxunicode + 1)
    if not _CHARREF_SPECIAL[codes].any():
        return _text(codes.astype(np.uint32))
    codes[codes > sys.maxunicode] = 0xD800  # out of range: U+FFFD like a surrogate
    return _text(codes.astype(np.uint32)).translate(_CHARREF_FIXES)


def _decode_escape(token: str) -> str:
    # Every decoder runs in C over the whole run: a megabyte of escapes costs milliseconds.
    if token.startswith("&"):
        numeric = _numeric_references(token) if token.startswith("&#") else None
        if numeric is not None:
            return numeric
        return "".join(map(_CHARREFS.__getitem__, token.split("&")[1:]))
    if token.startswith("%"):
        return bytes.fromhex(token.replace("%", "")).decode("utf-8", "replace")
    if token.startswith("\\x"):
        return bytes.fromhex(token.replace("\\x", "")).decode("utf-8", "replace")
    return bytes.fromhex(token.replace("\\u", "")).decode("utf-16-be", "replace")


@dataclass(frozen=True)
class _Unescaped:
    """Text with escapes decoded, and the replaced pieces to map positions back."""

    text: str
    decoded_starts: list[int]
    pieces: list[tuple[int, int, int, int]]  # (decoded start, decoded end, orig start, orig end)

    def to_original(
        self, positions: npt.NDArray[np.int64], *, is_end: bool
    ) -> npt.NDArray[np.int64]:
        # A start belongs to the piece it falls in; an end to the piece it closes.
        side: Literal["left", "right"] = "left" if is_end else "right"
        index = np.searchsorted(np.array(self.decoded_starts), positions, side=side) - 1
        piece = np.array(self.pieces, np.int64)[np.maximum(index, 0)]
        decoded_end, original_start, original_end = piece[:, 1], piece[:, 2], piece[:, 3]
        inside = positions < decoded_end
        if is_end:
            inside |= positions == decoded_end
        mapped = np.where(
            inside,
            original_end if is_end else original_start,
            original_end + positions - decoded_end,
        )
        return np.where(index >= 0, mapped, positions)


def _unescape(text: str) -> _Unescaped:
    if not any(marker in text for marker in _ESCAPE_MARKERS):
        return _Unescaped(text, [], [])
    parts: list[str] = []
    starts: list[int] = []
    pieces: list[tuple[int, int, int, int]] = []
    cursor = 0
    length = 0
    for match in _ESCAPE.finditer(text):
        start, end = match.span()
        token = text[start:end]
        decoded = _decode_escape(token)
        if decoded == token:
            continue
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
    # ASCII text as bytes: bytes.lower() and bytes.translate() run in C, several times faster
    # than the same on a str. Any other text through the code point table, in numpy passes.
    if text.isascii():
        return _fold_ascii(text.encode("ascii"))
    return _text(_TABLE.fold_codes(_codes(text)))


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
        start, end = match.span()  # one call: the wrapper's group() costs several
        token = encoded[start:end].decode("ascii")
        decoded = _decode_escape(token)
        if decoded == token:
            continue
        parts.append(encoded[cursor:start].decode("utf-8", "surrogatepass"))
        parts.append(decoded)
        cursor = end
    if not parts:
        return text
    parts.append(encoded[cursor:].decode("utf-8", "surrogatepass"))
    return "".join(parts)


def fold(text: str) -> str:
    """Escapes decoded and every character folded; whitespace not yet collapsed."""
    return _fold(_unescape_text(text))


# ASCII whitespace (as `str.isspace` has it) to a space, for collapsing long ASCII texts.
_ASCII_SPACES = bytes(32 if chr(byte).isspace() else byte for byte in range(128)) + bytes(128)
_SPLIT_BELOW = 4096


def collapse(folded: str) -> str:
    """Whitespace runs to one space, ends trimmed: `fold()` output to normalized text.

    Long ASCII texts are collapsed in numpy: `str.split` makes one object per word, several
    times slower on a megabyte of short words."""
    if len(folded) < _SPLIT_BELOW or not folded.isascii():
        return " ".join(folded.split())
    raw = np.frombuffer(folded.encode("ascii").translate(_ASCII_SPACES), np.uint8)
    space = raw == ord(" ")
    kept = ~space
    kept[1:] |= ~space[:-1]  # a space right after a non-space stands for its whole run
    collapsed: bytes = raw[kept].tobytes()
    return collapsed.decode("ascii").strip(" ")


def normalize(text: str) -> str:
    """The normalized text that rules are matched against."""
    return collapse(fold(text))


@dataclass(frozen=True)
class Normalized:
    """Normalized text with, per character, the original `[start, end)` it came from."""

    text: str
    starts: npt.NDArray[np.int64]
    ends: npt.NDArray[np.int64]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The original span covering normalized `text[start:end]` (end > start)."""
        return int(self.starts[start]), int(self.ends[end - 1])


def normalize_with_offsets(text: str, covering: int | None = None) -> Normalized:
    """Same text as `normalize()`, with each character's original span.

    With `covering`, the result may be a prefix of that: the normalized text of a prefix of
    `text`, at least `covering` characters long (or all of it), so a few spans near the start of
    a long text are mapped without mapping the whole text. The prefix ends just before a space or
    a newline: no escape and no fold crosses one, and a whitespace run cut there only loses the
    space it would collapse into, so every character of the prefix maps exactly as in the whole.
    """
    if covering is not None:
        cut = 2 * covering + 256
        while cut < len(text):
            boundaries = [
                found for found in (text.find(" ", cut), text.find("\n", cut)) if found >= 0
            ]
            if not boundaries:
                break
            prefix = _offsets(text[: min(boundaries)])
            if len(prefix.text) >= covering:
                return prefix
            cut = 2 * min(boundaries)
    return _offsets(text)


def _offsets(text: str) -> Normalized:
    """`normalize_with_offsets(text)` of the whole text, all in numpy passes: each folded
    character keeps the index of the character it came from; a whitespace run becomes its first
    character, spanning to the end of its last."""
    unescaped = _unescape(text)
    folded, origins = _TABLE.fold(_codes(unescaped.text))
    solid = np.flatnonzero(~_TABLE.is_space[folded])
    if not len(solid):
        return Normalized("", np.zeros(0, np.int64), np.zeros(0, np.int64))
    folded = folded[solid[0] : solid[-1] + 1]
    origins = origins[solid[0] : solid[-1] + 1]
    space = _TABLE.is_space[folded]
    space_after_space = np.zeros(len(folded), np.bool_)
    space_after_space[1:] = space[1:] & space[:-1]
    kept = np.flatnonzero(~space_after_space)
    # A kept character spans to the end of the last character before the next kept one.
    last = np.append(kept[1:], len(folded)) - 1
    chars = folded[kept]
    chars[space[kept]] = ord(" ")
    starts = origins[kept].astype(np.int64)
    ends = origins[last].astype(np.int64) + 1
    if unescaped.pieces:
        starts = unescaped.to_original(starts, is_end=False)
        ends = unescaped.to_original(ends, is_end=True)
    return Normalized(_text(chars), starts, ends)
