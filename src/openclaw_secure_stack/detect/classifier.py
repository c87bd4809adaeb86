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
scikit-learn is needed only to train.

Long texts are scored in windows of `WINDOW` characters (overlapping by half) and the highest
window wins, so an instruction buried in a long paste is not diluted away; texts longer than
`MAX_CHARS` are scored on their first and last `MAX_CHARS // 2` characters, which bounds time
and memory.
"""

from __future__ import annotations

import hashlib
import json
import math
import unicodedata
from dataclasses import dataclass
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
    """A score and the action the thresholds give it: what a detection verdict carries."""

    probability: float
    top_ngrams: tuple[str, ...]
    decision: ModelDecision

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


def _mix(hashes: Codepoints, seed: int) -> Codepoints:
    """murmur3 fmix64 over `hashes ^ seed` (uint64 arithmetic wraps, as intended)."""
    h = hashes ^ _U64(seed)
    h ^= h >> _U64(33)
    h *= _U64(0xFF51AFD7ED558CCD)
    h ^= h >> _U64(33)
    h *= _U64(0xC4CEB9FE1A85EC53)
    h ^= h >> _U64(33)
    return h


def _powers(base: int, count: int) -> Codepoints:
    """base**0 .. base**(count-1) modulo 2**64."""
    powers = np.empty(count, dtype=_U64)
    if count:
        powers[0] = 1
        powers[1:] = _U64(base)
        np.multiply.accumulate(powers, out=powers)
    return powers


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
    size = len(chars)
    hashes, starts, ends = [], [], []
    with np.errstate(over="ignore"):
        # h_n[i] = sum(chars[i + k] * P**(n - 1 - k)), so h_(n+1)[i] = h_n[i] * P + chars[i + n].
        rolling = chars
        for n in range(2, CHAR_NGRAMS[-1] + 1):
            count = size - n + 1
            if count <= 0:
                break
            rolling = rolling[:count] * _U64(_PRIME) + chars[n - 1 :]
            if n not in CHAR_NGRAMS:
                continue
            hashes.append(_mix(rolling, _SEEDS[n]))
            starts.append(np.arange(count, dtype=np.int64))
            ends.append(starts[-1] + n)
        first_word = sum(len(h) for h in hashes)
        word = _word_hashes(chars)
        if word is not None:
            word_hashes, word_starts, word_ends = word
            hashes.append(_mix(word_hashes, _SEED_WORD))
            starts.append(word_starts)
            ends.append(word_ends)
            if len(word_hashes) > 1:
                pairs = word_hashes[:-1] * _U64(_PRIME) + word_hashes[1:]
                hashes.append(_mix(pairs, _SEED_BIGRAM))
                starts.append(word_starts[:-1])
                ends.append(word_ends[1:])
    if not hashes:
        empty = np.zeros(0, dtype=np.int64)
        return NGrams(np.zeros(0, dtype=_U64), empty, empty, 0)
    return NGrams(np.concatenate(hashes), np.concatenate(starts), np.concatenate(ends), first_word)


def _word_hashes(
    chars: Codepoints,
) -> tuple[Codepoints, npt.NDArray[np.int64], npt.NDArray[np.int64]] | None:
    """Polynomial hash of each word (a run of letters, digits, '_' or any non-ASCII character)."""
    is_word = (
        ((chars >= 48) & (chars <= 57))
        | ((chars >= 97) & (chars <= 122))
        | (chars == 95)
        | (chars > 127)
    )
    positions = np.flatnonzero(is_word)
    if not len(positions):
        return None
    previous = np.concatenate(([False], is_word[:-1]))
    following = np.concatenate((is_word[1:], [False]))
    word_starts = np.flatnonzero(is_word & ~previous)
    word_ends = np.flatnonzero(is_word & ~following) + 1
    # sum(c[i] * P**i) over a word, then * P**-start: the word's hash wherever it occurs.
    weighted = chars[positions] * _powers(_PRIME, len(chars))[positions]
    segment = np.searchsorted(positions, word_starts)
    sums = np.add.reduceat(weighted, segment)
    hashes = sums * _powers(_PRIME_INVERSE, len(chars))[word_starts]
    return hashes, word_starts.astype(np.int64), word_ends.astype(np.int64)


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
        score = self.score(text)
        return Assessment(score.probability, score.top_ngrams, self.decide(score.probability))

    def probability(self, text: str) -> float:
        """The highest window probability; cheaper than `score` (no explanation)."""
        return _sigmoid(max(self._window(piece)[0] for piece in windows(text)))

    def score(self, text: str) -> Score:
        best = max((self._window(piece) for piece in windows(text)), key=lambda found: found[0])
        logit, normalized, grams = best
        return Score(_sigmoid(logit), self._explain(normalized, grams))

    def _window(self, text: str) -> tuple[float, str, NGrams]:
        """Logit of one window, with its normalised text and n-grams for the explanation."""
        normalized = normalize(text)
        grams = ngrams(normalized)
        present = distinct(buckets(grams, self.hash_bits))
        if not len(present):
            return self.bias, normalized, grams
        total = float(self.weights[present].sum(dtype=np.float64))
        return total / math.sqrt(len(present)) + self.bias, normalized, grams

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
