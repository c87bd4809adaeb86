"""A small linear model over hashed word and character n-grams that scores direct injection.

One more signal beside the phrase rules, for text a person writes. The model is data: a JSON
manifest (`model.json`: version, feature settings, bias, thresholds, training command, sources
and validation figures) and a raw little-endian float32 weight vector whose sha256 the manifest
records. `Classifier.load` refuses anything missing, corrupt or mismatched with
`ClassifierError`, naming the file, so the stack does not start without its model.

Features (identical in training and inference, because training calls `features()`):
the text is NFKC-normalised, case-folded and its whitespace collapsed; then character 2- to
5-grams and word 1- and 2-grams are hashed with a polynomial hash finished by murmur3's 64-bit
mixer into `2**hash_bits` buckets; a text is the set of its buckets, L2-normalised. Hashing is
vectorised with numpy (no Python loop per n-gram), which is what makes 1 KB cost about 0.1 ms;
scikit-learn is needed only to train. On a chat message the cost is the fixed price of each
numpy call, not the arithmetic, so scoring makes few of them, and a window of at most
`SHORT_CHARS` normalised characters ("ping", "thanks!") is hashed with Python ints instead: the
same arithmetic modulo 2**64, so the same buckets (a property test holds the two paths equal).

Long texts are scored in windows of `WINDOW` characters (overlapping by half) and the highest
window wins, so an instruction buried in a long paste is not diluted away; texts longer than
`MAX_CHARS` are scored on their first and last `MAX_CHARS // 2` characters, which bounds time
and memory.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import math
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from openclaw_secure_stack.detect.rules import RulesError

FEATURE_VERSION = 2
WINDOW = 2048
MAX_CHARS = 256 * 1024
CHAR_NGRAMS = (2, 3, 4, 5)
TOP_NGRAMS = 5
SHORT_CHARS = 20  # normalised windows up to this long are hashed in pure Python (faster there)
FINDING_RULE = "classifier"  # the rule name the model's flags and rejections are reported under

_U64 = np.uint64
_MASK64 = (1 << 64) - 1
_PRIME = 0x100000001B3  # FNV-64 prime: odd, so invertible modulo 2**64
_PRIME_INVERSE = pow(_PRIME, -1, 1 << 64)
_SEEDS = {
    2: 0x94D049BB133111EB,
    3: 0x9E3779B97F4A7C15,
    4: 0xC2B2AE3D27D4EB4F,
    5: 0x165667B19E3779F9,
}
_SEED_WORD = 0x27D4EB2F165667C5
_SEED_BIGRAM = 0x85EBCA77C2B2AE63
_FMIX1 = 0xFF51AFD7ED558CCD
_FMIX2 = 0xC4CEB9FE1A85EC53
# numpy scalars made once: building them costs more than the arithmetic on a short text.
_U64_PRIME = _U64(_PRIME)
_U64_33 = _U64(33)
_U64_FMIX1 = _U64(_FMIX1)
_U64_FMIX2 = _U64(_FMIX2)
_EMPTY = np.zeros(0, dtype=np.int64)
_IS_WORD = np.zeros(129, dtype=bool)  # by code point, everything from 128 up as 128
_IS_WORD[[*range(48, 58), *range(97, 123), 95, 128]] = True

ModelDecision = Literal["reject", "flag", "pass"]
Codepoints = npt.NDArray[np.uint64]
Buckets = npt.NDArray[np.int64]


class ClassifierError(RulesError):
    """The model cannot be used; the message names the file and what is wrong.

    A `RulesError`, so every start-up path that refuses unusable rules refuses it too."""


@dataclass(frozen=True, slots=True)
class Score:
    """Probability that the text is a direct injection, and the n-grams that pushed it most."""

    probability: float
    top_ngrams: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Assessment:
    """A score and the action the thresholds give it: what a detection verdict carries.

    The explanation is computed on first use: the proxy only needs probability and decision."""

    probability: float
    decision: ModelDecision
    explain: Callable[[], tuple[str, ...]] = field(repr=False, compare=False)

    @property
    def top_ngrams(self) -> tuple[str, ...]:
        return self.explain()

    def to_record(self) -> dict[str, object]:
        return {
            "probability": round(self.probability, 6),
            "decision": self.decision,
            "top_ngrams": list(self.top_ngrams),
        }


def normalize(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _codepoints(text: str) -> Codepoints:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4").astype(_U64)


def _mix(hashes: Codepoints, seeds: Codepoints) -> Codepoints:
    """murmur3 fmix64 over `hashes ^ seeds` (uint64 arithmetic wraps, as intended)."""
    h = hashes ^ seeds
    h ^= h >> _U64_33
    h *= _U64_FMIX1
    h ^= h >> _U64_33
    h *= _U64_FMIX2
    h ^= h >> _U64_33
    return h


def _mix_int(value: int) -> int:
    """`_mix` of one value already xored with its seed, in Python ints masked to 64 bits."""
    value ^= value >> 33
    value = (value * _FMIX1) & _MASK64
    value ^= value >> 33
    value = (value * _FMIX2) & _MASK64
    return value ^ (value >> 33)


def _powers(base: int, count: int) -> Codepoints:
    """base**0 .. base**(count-1) modulo 2**64."""
    powers = np.empty(count, dtype=_U64)
    if count:
        powers[0] = 1
        powers[1:] = _U64(base)
        np.multiply.accumulate(powers, out=powers)
    return powers


# Tables for any window whose normalised text is not much longer than the window (NFKC can
# lengthen it); longer ones compute their own.
_TABLE_SIZE = 2 * WINDOW
_ARANGE = np.arange(_TABLE_SIZE, dtype=np.int64)
_POWERS = _powers(_PRIME, _TABLE_SIZE)
_INVERSE_POWERS = _powers(_PRIME_INVERSE, _TABLE_SIZE)
for _table in (_ARANGE, _POWERS, _INVERSE_POWERS, _EMPTY):
    _table.flags.writeable = False  # shared by every call (views are handed out)


def _cached_powers(table: Codepoints, base: int, count: int) -> Codepoints:
    return table[:count] if count <= len(table) else _powers(base, count)


@dataclass(frozen=True, slots=True)
class NGrams:
    """Hashes of every n-gram of a normalised text, with where each one starts and ends."""

    hashes: Codepoints
    starts: npt.NDArray[np.int64]
    ends: npt.NDArray[np.int64]
    first_word: int  # n-grams from here on are words and word pairs (readable explanations)


def ngrams(text: str) -> NGrams:
    """Character 2-5-grams and word 1-2-grams of an already normalised text."""
    chars = _codepoints(text)
    rolling = _char_hashes(chars)
    word = _word_hashes(chars)
    mixed = _mixed(rolling, word)
    if not len(mixed):
        return NGrams(mixed, _EMPTY, _EMPTY, 0)
    starts = [_positions(len(part)) for _, part in rolling]
    ends = [start + n for start, (n, _) in zip(starts, rolling, strict=True)]
    if word is not None:
        _, word_starts, word_ends = word
        starts += [word_starts, word_starts[:-1]]
        ends += [word_ends, word_ends[1:]]
    first_word = sum(len(part) for _, part in rolling)
    return NGrams(mixed, np.concatenate(starts), np.concatenate(ends), first_word)


def hashes(text: str) -> Codepoints:
    """`ngrams(text).hashes` without the positions, which only the explanation needs."""
    chars = _codepoints(text)
    return _mixed(_char_hashes(chars), _word_hashes(chars))


def _char_hashes(chars: Codepoints) -> list[tuple[int, Codepoints]]:
    """Unmixed polynomial hash of every character n-gram, per n."""
    found = []
    # h_n[i] = sum(chars[i + k] * P**(n - 1 - k)), so h_(n+1)[i] = h_n[i] * P + chars[i + n].
    rolling = chars
    for n in range(2, CHAR_NGRAMS[-1] + 1):
        count = len(chars) - n + 1
        if count <= 0:
            break
        rolling = rolling[:count] * _U64_PRIME + chars[n - 1 :]
        if n in CHAR_NGRAMS:
            found.append((n, rolling))
    return found


def _mixed(rolling: list[tuple[int, Codepoints]], word: _Words | None) -> Codepoints:
    """Every n-gram hash mixed with its kind's seed, in one `_mix` call.

    Each numpy call costs more than the arithmetic on a chat message: fewer calls is what
    keeps short texts cheap."""
    parts = [part for _, part in rolling]
    seeds = [_SEEDS[n] for n, _ in rolling]
    if word is not None:
        words = word[0]
        parts += [words, words[:-1] * _U64_PRIME + words[1:]]
        seeds += [_SEED_WORD, _SEED_BIGRAM]
    if not parts:
        return np.zeros(0, dtype=_U64)
    counts = [len(part) for part in parts]
    return _mix(np.concatenate(parts), np.repeat(np.array(seeds, dtype=_U64), counts))


def _positions(count: int) -> npt.NDArray[np.int64]:
    """0 .. count - 1 (a view of a shared array when short enough)."""
    if count <= len(_ARANGE):
        return _ARANGE[:count]
    return np.arange(count, dtype=np.int64)


_Words = tuple[Codepoints, npt.NDArray[np.int64], npt.NDArray[np.int64]]


def _word_hashes(chars: Codepoints) -> _Words | None:
    """Polynomial hash of each word (a run of letters, digits, '_' or any non-ASCII character)."""
    padded = np.zeros(len(chars) + 2, dtype=bool)
    padded[1:-1] = _IS_WORD[np.minimum(chars, 128)]
    # Runs alternate, so where padded changes is start, end, start, end, ...
    bounds = (padded[1:] != padded[:-1]).nonzero()[0]
    if not len(bounds):
        return None
    word_starts, word_ends = bounds[::2], bounds[1::2]
    # prefix[i] = sum(c[j] * P**j for j < i), so a word's sum is a difference of two prefixes
    # (exact modulo 2**64), then * P**-start: the word's hash wherever it occurs.
    prefix = np.zeros(len(chars) + 1, dtype=_U64)
    np.cumsum(chars * _cached_powers(_POWERS, _PRIME, len(chars)), out=prefix[1:])
    sums = prefix[word_ends] - prefix[word_starts]
    inverse = _cached_powers(_INVERSE_POWERS, _PRIME_INVERSE, len(chars))
    return sums * inverse[word_starts], word_starts, word_ends


ShortNGrams = tuple[list[int], list[int], list[int], int]  # NGrams' fields as Python lists


def short_ngrams(text: str) -> ShortNGrams:
    """`ngrams` computed with Python ints: identical values, cheaper for a short text."""
    chars = [ord(char) for char in text]
    hashes: list[int] = []
    starts: list[int] = []
    ends: list[int] = []
    rolling = chars
    for n in range(2, CHAR_NGRAMS[-1] + 1):
        count = len(chars) - n + 1
        if count <= 0:
            break
        rolling = [
            (h * _PRIME + c) & _MASK64 for h, c in zip(rolling, chars[n - 1 :], strict=False)
        ]
        if n in CHAR_NGRAMS:
            seed = _SEEDS[n]
            hashes += [_mix_int(h ^ seed) for h in rolling]
            starts += range(count)
            ends += range(n, count + n)
    first_word = len(hashes)
    words: list[int] = []
    word_starts: list[int] = []
    word_ends: list[int] = []
    for index, char in enumerate(chars):
        if 48 <= char <= 57 or 97 <= char <= 122 or char == 95 or char > 127:
            if not word_ends or word_ends[-1] != index:
                words.append(0)
                word_starts.append(index)
                word_ends.append(index)
                power = 1
            words[-1] = (words[-1] + char * power) & _MASK64
            power = (power * _PRIME) & _MASK64
            word_ends[-1] = index + 1
    hashes += [_mix_int(h ^ _SEED_WORD) for h in words]
    hashes += [
        _mix_int(((a * _PRIME + b) & _MASK64) ^ _SEED_BIGRAM) for a, b in itertools.pairwise(words)
    ]
    return (
        hashes,
        starts + word_starts + word_starts[:-1],
        ends + word_ends + word_ends[1:],
        first_word,
    )


def as_ngrams(short: ShortNGrams) -> NGrams:
    hashes, starts, ends, first_word = short
    return NGrams(
        np.array(hashes, dtype=_U64),
        np.array(starts, dtype=np.int64),
        np.array(ends, dtype=np.int64),
        first_word,
    )


def buckets(grams: NGrams, hash_bits: int) -> Buckets:
    return (grams.hashes >> _U64(64 - hash_bits)).astype(np.int64)


def distinct(values: Buckets) -> Buckets:
    """Sorted distinct values; ten times faster than `np.unique` on a few thousand int64."""
    ordered = np.sort(values)
    keep = np.empty(len(ordered), dtype=bool)
    keep[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def features(text: str, hash_bits: int) -> Buckets:
    """The sorted distinct buckets of a text: the model's (binary, L2-normalised) input."""
    return distinct(buckets(ngrams(normalize(text)), hash_bits))


def windows(text: str) -> list[str]:
    """The pieces a text is scored in: itself if short, else overlapping windows."""
    if len(text) > MAX_CHARS:
        half = MAX_CHARS // 2
        text = text[:half] + "\n" + text[-half:]
    if len(text) <= WINDOW:
        return [text]
    step = WINDOW // 2
    return [text[start : start + WINDOW] for start in range(0, len(text) - step, step)]


class Classifier:
    """A loaded, verified model; `score` is pure and safe to call from worker threads."""

    def __init__(
        self,
        weights: npt.NDArray[np.float32],
        *,
        bias: float,
        flag_threshold: float,
        reject_threshold: float,
        manifest: dict[str, object],
    ) -> None:
        self.weights = weights
        self.hash_bits = int(weights.size).bit_length() - 1
        self.bias = bias
        self.flag_threshold = flag_threshold
        self.reject_threshold = reject_threshold
        self.manifest = manifest  # version, sources and validation figures, for reports

    @classmethod
    def load(cls, path: Path) -> Classifier:
        """Read `model.json` and the weights it names; refuse anything that does not verify."""
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ClassifierError(f"{path}: classifier model not found") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ClassifierError(f"{path}: unreadable classifier manifest: {exc}") from None
        required = ("feature_version", "hash_bits", "bias", "thresholds", "weights", "sha256")
        if not isinstance(manifest, dict) or any(key not in manifest for key in required):
            raise ClassifierError(f"{path}: manifest must have the keys {', '.join(required)}")
        if manifest["feature_version"] != FEATURE_VERSION:
            raise ClassifierError(
                f"{path}: feature_version {manifest['feature_version']!r} is not the "
                f"{FEATURE_VERSION} this code computes; retrain the model"
            )
        thresholds = manifest["thresholds"]
        if not (
            isinstance(thresholds, dict)
            and all(isinstance(thresholds.get(k), float) for k in ("flag", "reject"))
            and isinstance(manifest["hash_bits"], int)
            and 8 <= manifest["hash_bits"] <= 24
            and isinstance(manifest["bias"], float)
        ):
            raise ClassifierError(f"{path}: hash_bits, bias or thresholds have the wrong type")
        weights_path = path.parent / str(manifest["weights"])
        try:
            raw = weights_path.read_bytes()
        except OSError as exc:
            raise ClassifierError(f"{weights_path}: classifier weights unreadable: {exc}") from None
        digest = hashlib.sha256(raw).hexdigest()
        if digest != manifest["sha256"]:
            raise ClassifierError(
                f"{weights_path}: sha256 {digest} does not match {path} ({manifest['sha256']})"
            )
        expected = 4 << manifest["hash_bits"]
        if len(raw) != expected:
            raise ClassifierError(f"{weights_path}: {len(raw)} bytes, expected {expected}")
        weights = np.frombuffer(raw, dtype="<f4")
        if not np.isfinite(weights).all():
            raise ClassifierError(f"{weights_path}: weights contain NaN or infinity")
        return cls(
            weights,
            bias=manifest["bias"],
            flag_threshold=thresholds["flag"],
            reject_threshold=thresholds["reject"],
            manifest=manifest,
        )

    def with_thresholds(self, flag: float | None, reject: float | None) -> Classifier:
        """The same model with configured thresholds (None keeps the recorded one)."""
        flag = self.flag_threshold if flag is None else flag
        reject = self.reject_threshold if reject is None else reject
        if not 0 < flag <= reject < 1:
            raise ClassifierError(
                f"classifier thresholds must satisfy 0 < flag ({flag}) <= reject ({reject}) < 1: "
                "set CLASSIFIER_FLAG_THRESHOLD below CLASSIFIER_REJECT_THRESHOLD"
            )
        return Classifier(
            self.weights,
            bias=self.bias,
            flag_threshold=flag,
            reject_threshold=reject,
            manifest=self.manifest,
        )

    def decide(self, probability: float) -> ModelDecision:
        """The model's own action: reject, flag or pass (it never strips: it has no spans)."""
        if probability >= self.reject_threshold:
            return "reject"
        return "flag" if probability >= self.flag_threshold else "pass"

    def assess(self, text: str) -> Assessment:
        """Probability and decision now; the explanation when `top_ngrams` is first read."""
        logit, explain = self._best(text)
        probability = _sigmoid(logit)
        return Assessment(probability, self.decide(probability), functools.cache(explain))

    def probability(self, text: str) -> float:
        """The highest window probability; cheaper than `score` (no explanation)."""
        return _sigmoid(self._best(text)[0])

    def score(self, text: str) -> Score:
        logit, explain = self._best(text)
        return Score(_sigmoid(logit), explain())

    def _best(self, text: str) -> tuple[float, Callable[[], tuple[str, ...]]]:
        """The highest window logit, and how to explain that window."""
        return max((self._window(piece) for piece in windows(text)), key=lambda found: found[0])

    def _window(self, text: str) -> tuple[float, Callable[[], tuple[str, ...]]]:
        """Logit of one window, and how to explain it (deferred: most callers never ask)."""
        normalized = normalize(text)
        if len(normalized) <= SHORT_CHARS:
            short = short_ngrams(normalized)
            shift = 64 - self.hash_bits
            present = np.array(sorted({h >> shift for h in short[0]}), dtype=np.int64)
            explain = lambda: self._explain(normalized, as_ngrams(short))  # noqa: E731
        else:
            shifted = hashes(normalized) >> _U64(64 - self.hash_bits)
            present = distinct(shifted.astype(np.int64))
            explain = lambda: self._explain(normalized, ngrams(normalized))  # noqa: E731
        if not len(present):
            return self.bias, explain
        total = float(self.weights[present].sum(dtype=np.float64))
        return total / math.sqrt(len(present)) + self.bias, explain

    def _explain(self, normalized: str, grams: NGrams) -> tuple[str, ...]:
        """The words and word pairs with the most positive weights (what pushed toward injection).

        Character n-grams carry much of the score but read as noise ('nten'), so the explanation
        names whole words.
        """
        contribution = self.weights[buckets(grams, self.hash_bits)[grams.first_word :]]
        names: list[str] = []
        for found in np.argsort(-contribution, kind="stable"):
            index = int(found) + grams.first_word
            if contribution[found] <= 0 or len(names) == TOP_NGRAMS:
                break
            name = normalized[int(grams.starts[index]) : int(grams.ends[index])]
            if name not in names:
                names.append(name)
        return tuple(names)


def load_classifier(path: Path, flag: float | None, reject: float | None) -> Classifier:
    """The model at `path` with the configured thresholds (None keeps the recorded ones)."""
    return Classifier.load(path).with_thresholds(flag, reject)


def _sigmoid(logit: float) -> float:
    if logit >= 0:
        return 1.0 / (1.0 + math.exp(-logit))
    exp = math.exp(logit)
    return exp / (1.0 + exp)
