"""Base64 and hex runs embedded in text, decoded when they read as text.

`decoded_runs(text)` finds every run of 24 or more base64-alphabet characters (`[A-Za-z0-9+/]`,
plus up to two `=`), decodes it as hex when it is an even run of hex digits and as base64
otherwise (a length of 4k+1 is not base64), and keeps the runs whose decoded bytes read as text:
ASCII with at least 95% printable bytes, 60% letters and a space, or UTF-8 with the same shares of
characters. The kept texts are joined by "\\n" into one text, so one set pass scans them all.

Speed: an attacker can fill a megabyte with tens of thousands of runs, so past a few runs
nothing runs per run in Python: the rest of the runs are located with numpy, decoded in C calls
and digit tables, and every run's UTF-8 is decoded in one call with a 0xFF byte (never valid
UTF-8) after each run, so a run's invalid bytes stay inside it. Ordinary text has few runs (long
identifiers, hashes); those are decoded one by one, which costs less than numpy's fixed costs.
"""

from __future__ import annotations

import binascii
import sys
from bisect import bisect_right
from dataclasses import dataclass
from functools import cached_property
from itertools import accumulate, compress
from typing import Literal

import numpy as np
import numpy.typing as npt

MIN_RUN = 24
# Runs located and decoded one at a time before numpy takes over.
_FEW_RUNS = 32
_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
# The text translated to "a" for alphabet bytes and " " for the rest, so C searches find runs.
_MASK = bytes(ord("a") if byte in _ALPHABET else ord(" ") for byte in range(256))
_LONG = b"a" * MIN_RUN
_SIXBIT_BYTES = bytes(_ALPHABET.find(byte) % 256 for byte in range(256))  # 255: not base64
_SIXBITS = np.frombuffer(_SIXBIT_BYTES, np.uint8)
_HEX_DIGITS = b"0123456789abcdefABCDEF"
_NOT_HEX = bytes(byte not in _HEX_DIGITS for byte in range(256))
_LETTERS = bytes(range(65, 91)) + bytes(range(97, 123))
_ASCII_PRINTABLE_BYTES = bytes(range(32, 127)) + b"\t\n\r"
_SEPARATOR = 0xFF
_SEPARATOR_CODE = 0xDC00 + _SEPARATOR  # what "surrogateescape" makes of it

# Per character: what decides whether a run reads as text. Filled on first sight of a code point.
_ALPHA, _PRINTABLE, _ODD_SPACE, _SPACE, _NON_ASCII, _INVALID, _END, _PENDING = (
    1 << bit for bit in range(8)
)


def _flags(code: int) -> int:
    char = chr(code)
    flags = _ALPHA if char.isalpha() else 0
    if 32 <= code < 127 or char in "\t\n\r" or (code >= 128 and char.isprintable()):
        flags |= _PRINTABLE
    elif char.isspace():  # printable in UTF-8 text, not in ASCII text (vertical tab, ...)
        flags |= _ODD_SPACE
    if char == " ":
        flags |= _SPACE
    if code >= 128:
        flags |= _NON_ASCII
    if code == _SEPARATOR_CODE:
        flags = _END
    elif 0xDC80 <= code < _SEPARATOR_CODE:  # a byte that was not valid UTF-8
        flags |= _INVALID
    return flags


_FLAGS = np.full(sys.maxunicode + 1, _PENDING, np.uint8)
for _code in [*range(128), *range(0xDC80, 0xDD00)]:
    _FLAGS[_code] = _flags(_code)
# The same for text that is ASCII but for its separators, one character per byte.
_BYTE_FLAGS = bytes([*_FLAGS[:128].tolist(), *[0] * 127, _END])


def _code_flags(codes: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint8]:
    flags = _FLAGS[codes]
    pending = flags == _PENDING
    if pending.any():
        for code in np.unique(codes[pending]).tolist():
            _FLAGS[code] = _flags(code)
        flags = _FLAGS[codes]
    return flags


def _characters(joined: npt.NDArray[np.uint8], runs: int) -> tuple[str, str, npt.NDArray[np.uint8]]:
    """`joined` decoded, the character its separators became, and each character's flags."""
    data = joined.tobytes()
    if np.count_nonzero(joined & 0x80) == runs:  # ASCII but for the separators
        return (
            data.decode("latin-1"),
            chr(_SEPARATOR),
            np.frombuffer(data.translate(_BYTE_FLAGS), np.uint8),
        )
    text = data.decode("utf-8", "surrogateescape")
    # A one-element string array holds the code points as they are (surrogates included).
    codes = np.array([text], f"<U{len(text)}").view(np.uint32)
    return text, chr(_SEPARATOR_CODE), _code_flags(codes)


def _exclusive_cumsum(values: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
    return np.cumsum(values) - values


def _run_bounds(mask: bytes) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Start and end of each maximal run of at least `MIN_RUN` "a" bytes in `mask`."""
    starts: list[int] = []
    ends: list[int] = []
    position = mask.find(_LONG)
    # After a " " the first occurrence of the long run is where a run starts.
    while position >= 0 and len(starts) < _FEW_RUNS:
        end = mask.find(b" ", position)
        end = len(mask) if end < 0 else end
        starts.append(position)
        ends.append(end)
        position = mask.find(_LONG, end)
    found = np.array(starts, np.intp), np.array(ends, np.intp)
    if position < 0:
        return found
    # More than a few: the rest in numpy passes.
    alphabet = np.frombuffer(mask, np.uint8)[position:] == ord("a")
    edges = np.flatnonzero(np.diff(alphabet, prepend=False, append=False)) + position
    rest_starts, rest_ends = edges[0::2], edges[1::2]
    long = rest_ends - rest_starts >= MIN_RUN
    return (
        np.concatenate([found[0], rest_starts[long]]),
        np.concatenate([found[1], rest_ends[long]]),
    )


def _inside(
    length: int, starts: npt.NDArray[np.intp], ends: npt.NDArray[np.intp]
) -> npt.NDArray[np.bool_]:
    """A mask of `length` that is True inside the disjoint, sorted, non-empty `[start, end)`
    segments (the mask is False, True, False, ... repeated gap, segment, gap, ... times)."""
    counts = np.empty(2 * len(starts) + 1, np.intp)
    counts[0] = starts[0]
    counts[1:-1:2] = ends - starts
    counts[2:-1:2] = starts[1:] - ends[:-1]
    counts[-1] = length - ends[-1]
    values = np.zeros(len(counts), np.bool_)
    values[1::2] = True
    return np.repeat(values, counts)


def _a2b_base64(data: bytes) -> npt.NDArray[np.uint8]:
    """Whole quads of the base64 alphabet decoded (`binascii` is a slower byte loop)."""
    quads = np.frombuffer(data.translate(_SIXBIT_BYTES), np.uint8).reshape(-1, 4)
    decoded = np.empty((len(quads), 3), np.uint8)
    decoded[:, 0] = (quads[:, 0] << 2) | (quads[:, 1] >> 4)
    decoded[:, 1] = (quads[:, 1] << 4) | (quads[:, 2] >> 2)  # uint8: high bits fall off
    decoded[:, 2] = (quads[:, 2] << 6) | quads[:, 3]
    return decoded.reshape(-1)


def _a2b_hex(data: bytes) -> npt.NDArray[np.uint8]:
    return np.frombuffer(binascii.a2b_hex(data), np.uint8)


def _decode(
    raw: npt.NDArray[np.uint8],
    starts: npt.NDArray[np.intp],
    lengths: npt.NDArray[np.intp],
    is_hex: npt.NDArray[np.bool_],
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.intp]]:
    """Every run decoded, each followed by a 0xFF separator, and each run's decoded size.

    Base64 runs decode as `b64decode` of the run padded with "=" (spare low bits ignored): the
    whole quads of all runs in one C call, the 2 or 3 characters left over per run here. A 0xFF
    inside a run (never valid UTF-8) becomes 0xC0 (never valid either), so every 0xFF left is a
    separator."""
    base64 = ~is_hex
    tails = np.where(base64, lengths % 4, 0)
    wholes = np.where(base64, 3 * (lengths // 4), lengths // 2)  # bytes decoded by the C calls
    sizes = np.where(base64, 3 * lengths // 4, wholes)
    slots = _exclusive_cumsum(sizes + 1)
    joined = np.empty(int(slots[-1] + sizes[-1] + 1), np.uint8)
    for chosen, decode in ((base64, _a2b_base64), (is_hex, _a2b_hex)):
        if chosen.any():
            run_starts = starts[chosen]
            run_ends = run_starts + lengths[chosen] - tails[chosen]
            encoded = raw[_inside(len(raw), run_starts, run_ends)].tobytes()
            decoded = decode(encoded)
            joined[_inside(len(joined), slots[chosen], slots[chosen] + wholes[chosen])] = decoded
    left = np.flatnonzero(tails >= 2)
    if len(left):
        at = starts[left] + lengths[left] - tails[left]
        first, second, third = (_SIXBITS[raw[at + k]] for k in range(3))
        joined[slots[left] + wholes[left]] = (first << 2) | (second >> 4)
        two = tails[left] == 3
        joined[(slots[left] + wholes[left] + 1)[two]] = (((second & 15) << 4) | (third >> 2))[two]
    joined[joined == _SEPARATOR] = 0xC0
    joined[slots + sizes] = _SEPARATOR
    return joined, sizes


@dataclass(frozen=True)
class DecodedRuns:
    """The readable decoded runs of a text, joined by "\\n" into `text`, and where each run is."""

    text: str
    encoded: bytes  # the original text as UTF-8, for offsets
    offsets: list[int]  # start of each run in `text`
    byte_starts: npt.NDArray[np.intp]
    byte_ends: npt.NDArray[np.intp]
    hex: npt.NDArray[np.bool_]

    @cached_property
    def _ascii(self) -> bool:
        return self.encoded.isascii()

    @cached_property
    def _char_index(self) -> npt.NDArray[np.intp]:
        """For each byte of `encoded` and its end, the index of the character it starts."""
        raw = np.frombuffer(self.encoded + b"\0", np.uint8)
        return np.cumsum((raw & 0xC0) != 0x80) - 1

    def original(self, low: int, high: int) -> tuple[int, int, Literal["base64", "hex"]]:
        """The original span of the runs that `text[low:high]` (high > low) came from, and the
        view of the first of them."""
        first = bisect_right(self.offsets, low) - 1
        last = bisect_right(self.offsets, high - 1) - 1
        start, end = int(self.byte_starts[first]), int(self.byte_ends[last])
        if not self._ascii:
            start, end = int(self._char_index[start]), int(self._char_index[end])
        return start, end, "hex" if self.hex[first] else "base64"


def _readable(raw: bytes) -> str | None:
    """The decoded run as text if it reads as text (one run; `decoded_runs` does many at once)."""
    if raw.isascii():
        letters = len(raw) - len(raw.translate(None, _LETTERS))
        printable = len(raw) - len(raw.translate(None, _ASCII_PRINTABLE_BYTES))
        if printable < 0.95 * len(raw) or letters < 0.6 * len(raw) or b" " not in raw:
            return None
        return raw.decode("ascii")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    # Counted through the flags table: one run may hold a megabyte of characters.
    flags = _code_flags(np.array([text], f"<U{len(text)}").view(np.uint32))
    letters = int(np.count_nonzero(flags & _ALPHA))
    printable = int(np.count_nonzero(flags & (_PRINTABLE | _ODD_SPACE)))  # isprintable or isspace
    if printable < 0.95 * len(text) or letters < 0.6 * len(text) or " " not in text:
        return None
    return text


def _few_decoded_runs(encoded: bytes, starts: list[int], ends: list[int]) -> DecodedRuns | None:
    """`decoded_runs` for a few runs, one at a time."""
    texts: list[str] = []
    kept: list[tuple[int, int, bool]] = []
    for start, end in zip(starts, ends, strict=True):
        run = encoded[start:end]
        equals = len(encoded[end : end + 2]) - len(encoded[end : end + 2].lstrip(b"="))
        is_hex = not equals and len(run) % 2 == 0 and not run.translate(None, _HEX_DIGITS)
        if is_hex:
            raw = binascii.a2b_hex(run)
        elif len(run) % 4 == 1:
            continue
        else:
            raw = binascii.a2b_base64(run + b"=" * (-len(run) % 4))
        decoded = _readable(raw)
        if decoded is not None:
            texts.append(decoded)
            kept.append((start, end + equals, is_hex))
    if not texts:
        return None
    return DecodedRuns(
        text="\n".join(texts),
        encoded=encoded,
        offsets=list(accumulate((len(text) + 1 for text in texts[:-1]), initial=0)),
        byte_starts=np.array([start for start, _, _ in kept], np.intp),
        byte_ends=np.array([end for _, end, _ in kept], np.intp),
        hex=np.array([is_hex for _, _, is_hex in kept], np.bool_),
    )


def decoded_runs(text: str) -> DecodedRuns | None:
    """The runs of `text` that decode to readable text, or None if there are none.

    No cap is needed for bounded work: runs do not overlap, decoding is linear, and the decoded
    text is shorter than the runs, so the extra scanning is at most the size of the input."""
    encoded = text.encode()
    starts, ends = _run_bounds(encoded.translate(_MASK))
    if not len(starts):
        return None
    if len(starts) <= _FEW_RUNS:
        return _few_decoded_runs(encoded, starts.tolist(), ends.tolist())
    padded = encoded + b"\0\0"  # two more bytes for "=" lookups
    raw = np.frombuffer(padded, np.uint8)
    equals = (raw[ends] == ord("=")).astype(np.intp)
    equals += equals & (raw[ends + 1] == ord("="))
    lengths = ends - starts
    not_hex = np.maximum.reduceat(
        np.frombuffer(padded.translate(_NOT_HEX), np.uint8),
        np.stack([starts, ends], axis=1).reshape(-1),
    )
    is_hex = (equals == 0) & (lengths % 2 == 0) & (not_hex[0::2] == 0)
    decodable = is_hex | (lengths % 4 != 1)
    starts, ends, lengths, equals, is_hex = (
        starts[decodable],
        ends[decodable],
        lengths[decodable],
        equals[decodable],
        is_hex[decodable],
    )
    if not len(starts):
        return None
    joined, _ = _decode(raw, starts, lengths, is_hex)
    decoded, separator, flags = _characters(joined, len(starts))
    ends_at = np.flatnonzero(flags == _END)
    chars = np.diff(ends_at, prepend=-1) - 1
    first_chars = ends_at - chars

    def count(flag: int) -> npt.NDArray[np.int32]:
        return np.add.reduceat(flags & flag, first_chars, dtype=np.int32) // flag

    present = np.bitwise_or.reduceat(flags, first_chars)
    printable = count(_PRINTABLE)
    odd = (present & _NON_ASCII != 0) & (present & _ODD_SPACE != 0)
    if odd.any():
        printable += np.where(odd, count(_ODD_SPACE), 0)
    readable = (
        (present & _INVALID == 0)
        & (present & _SPACE != 0)
        & ~(printable < 0.95 * chars)
        & ~(count(_ALPHA) < 0.6 * chars)
    )
    if not readable.any():
        return None
    texts = decoded[:-1]
    if readable.all():
        text = texts.replace(separator, "\n")
    else:
        text = "\n".join(compress(texts.split(separator), readable.tolist()))
    return DecodedRuns(
        text=text,
        encoded=encoded,
        offsets=_exclusive_cumsum(chars[readable] + 1).tolist(),
        byte_starts=starts[readable],
        byte_ends=(ends + equals)[readable],
        hex=is_hex[readable],
    )
