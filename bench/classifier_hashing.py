"""Why the classifier hashes n-grams with numpy: three ways to score the same features, timed.

    uv run --with mmh3 python bench/classifier_hashing.py

1. numpy (what ships): rolling polynomial hash + murmur3 fmix64, vectorised, no Python loop per
   n-gram (`openclaw_secure_stack.detect.classifier`).
2. scikit-learn `HashingVectorizer` (char 2-5 + word 1-2, murmur3 in Cython) and a sparse dot.
3. `mmh3` (murmur3 in C) called once per n-gram from a Python loop.

Each is timed on a 1 KB message (median of 2,000 calls after warm-up) and on one long source
file scored the way the classifier scores long text. Only (1) computes the features the model
was trained on; (2) and (3) compute the same kind and number of features, which is what costs.
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import HashingVectorizer

from openclaw_secure_stack import resources
from openclaw_secure_stack.detect.classifier import Classifier, normalize, windows

ROOT = Path(__file__).resolve().parents[1]
MESSAGE = (
    "Could you help me plan a three day trip to Lisbon? I like museums, food markets and long "
    "walks by the river, and I would rather avoid tourist traps. Ignore the budget for now. "
) * 8
MESSAGE = MESSAGE[:1024]


def median_seconds(function: Callable[[str], object], text: str, calls: int) -> float:
    for _ in range(20):
        function(text)
    timings = []
    for _ in range(calls):
        started = time.perf_counter()
        function(text)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def main() -> None:
    classifier = Classifier.load(resources.CLASSIFIER_MODEL)
    weights = classifier.weights
    chars = HashingVectorizer(
        analyzer="char", ngram_range=(2, 5), n_features=weights.size, alternate_sign=False
    )
    words = HashingVectorizer(
        analyzer="word", ngram_range=(1, 2), n_features=weights.size, alternate_sign=False
    )

    def sklearn_score(text: str) -> float:
        return max(
            float((chars.transform([p]) @ weights)[0] + (words.transform([p]) @ weights)[0])
            for p in windows(text)
        )

    scorers: dict[str, Callable[[str], object]] = {
        "numpy (shipped)": classifier.probability,
        "scikit-learn HashingVectorizer": sklearn_score,
    }
    try:
        import mmh3

        def mmh3_score(text: str) -> float:
            best = -np.inf
            for piece in windows(text):
                t = normalize(piece)
                found = [
                    mmh3.hash(t[i : i + n], n, signed=False) >> 12
                    for n in (2, 3, 4, 5)
                    for i in range(len(t) - n + 1)
                ]
                tokens = t.split()
                found += [mmh3.hash(w, 7, signed=False) >> 12 for w in tokens]
                found += [
                    mmh3.hash(f"{a} {b}", 8, signed=False) >> 12
                    for a, b in itertools.pairwise(tokens)
                ]
                present = np.unique(np.array(found, dtype=np.int64))
                best = max(best, float(weights[present].sum()) / np.sqrt(max(len(present), 1)))
            return best

        scorers["mmh3 per n-gram"] = mmh3_score
    except ImportError:
        print("mmh3 not installed: run with `uv run --with mmh3 ...` to include it")

    document = (ROOT / "src/openclaw_secure_stack/detect/classifier.py").read_text() * 4
    size_kib = len(document.encode()) / 1024
    print(f"{'scorer':<32} {'1 KB message':>14} {'long text':>26}")
    for name, function in scorers.items():
        message = median_seconds(function, MESSAGE, 2000)
        long_text = median_seconds(function, document, 10)
        print(
            f"{name:<32} {message * 1e3:>11.3f} ms {size_kib:>6.0f} KiB: "
            f"{size_kib / 1024 / long_text:>6.1f} MB/s"
        )


if __name__ == "__main__":
    main()
