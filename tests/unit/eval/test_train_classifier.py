"""Classifier training: deterministic bytes, no test data, and the committed figures reproduce."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from eval import corpora, train_classifier
from eval.train_classifier import MODEL_DIR, evaluate, figures, role

from openclaw_secure_stack.detect.classifier import Classifier

pytestmark = pytest.mark.slow
TOLERANCE = 0.005


def _digest(directory: Path) -> dict[str, str]:
    return {
        name: hashlib.sha256((directory / name).read_bytes()).hexdigest()
        for name in ("model.json", "weights.f32")
    }


def test_training_never_sees_test_data() -> None:
    """No test-split sample and no topic question is used for training or validation."""
    assert "topic_questions" not in train_classifier.TRAINING_SOURCES
    for sample in corpora.load("slabs", "neuralchemy", "documents", "topic_questions"):
        if sample.split == "test":
            assert role(sample) is None


def test_same_data_gives_the_same_model_bytes(tmp_path: Path) -> None:
    """Training twice on the same deterministic subset writes byte-identical model files."""
    first = train_classifier.train(tmp_path / "a", limit=1500).parent
    second = train_classifier.train(tmp_path / "b", limit=1500).parent
    assert _digest(first) == _digest(second)
    Classifier.load(first / "model.json")


@pytest.fixture(scope="module")
def validation() -> list[corpora.Sample]:
    return train_classifier.validation_samples()


def test_committed_validation_figures_reproduce(validation: list[corpora.Sample]) -> None:
    """Scoring the validation sets with the committed model gives the figures it records."""
    classifier = Classifier.load(MODEL_DIR / "model.json")
    manifest = json.loads((MODEL_DIR / "model.json").read_text(encoding="utf-8"))
    benign, attacks = evaluate(classifier, validation)
    recorded = manifest["validation"]
    for name, cut in (
        ("at_flag_threshold", classifier.flag_threshold),
        ("at_reject_threshold", classifier.reject_threshold),
    ):
        measured = figures(benign, attacks, cut)
        assert measured.keys() == recorded[name].keys()
        for key, row in measured.items():
            assert row["n"] == recorded[name][key]["n"], key
            metric = "recall" if "recall" in row else "fp_rate"
            assert abs(row[metric] - recorded[name][key][metric]) <= TOLERANCE, key


def _committed() -> tuple[dict[str, Any], np.ndarray]:
    """The committed manifest and a writable copy of its weights."""
    manifest = json.loads((MODEL_DIR / "model.json").read_text(encoding="utf-8"))
    weights = np.frombuffer((MODEL_DIR / "weights.f32").read_bytes(), dtype="<f4").copy()
    return manifest, weights


def _written(directory: Path, manifest: dict[str, Any], weights: np.ndarray) -> Path:
    train_classifier.write(directory, weights, manifest)
    return directory


def test_the_committed_model_is_the_same_as_itself(
    tmp_path: Path, validation: list[corpora.Sample]
) -> None:
    """A byte-identical copy has no differences."""
    copy = _written(tmp_path, *_committed())
    assert train_classifier.differences(copy, MODEL_DIR, validation) == []


def test_cpu_sized_drift_is_the_same_model(
    tmp_path: Path, validation: list[corpora.Sample]
) -> None:
    """Drift of the size measured between two CPUs (weights and bias moved by ~2e-5) counts as
    the same model."""
    manifest, weights = _committed()
    weights += np.random.default_rng(0).uniform(-2e-5, 2e-5, weights.size).astype("<f4")
    manifest["bias"] += 4e-6
    drifted = _written(tmp_path, manifest, weights)
    assert train_classifier.differences(drifted, MODEL_DIR, validation) == []


def _largest_weight_moved(manifest: dict[str, Any], weights: np.ndarray) -> None:
    weights[int(np.argmax(np.abs(weights)))] += 0.01


CHANGES: dict[str, tuple[Callable[[dict[str, Any], np.ndarray], None], str]] = {
    "other C": (lambda m, w: m.update(C=16.0), "C: 16.0 != 32.0"),
    "other data": (lambda m, w: m.update(training_windows=1), "training_windows: 1 != "),
    "moved bias": (lambda m, w: m.update(bias=m["bias"] + 0.05), "bias: differ by up to 0.05"),
    "moved weight": (_largest_weight_moved, "weights: differ by up to 0.01"),
    "moved threshold": (
        lambda m, w: m.update(thresholds={**m["thresholds"], "flag": 0.9}),
        "flag threshold: 0.9 != ",
    ),
}


@pytest.mark.parametrize("name", sorted(CHANGES))
def test_a_different_model_is_named(
    tmp_path: Path, validation: list[corpora.Sample], name: str
) -> None:
    """Another C or data, a moved bias, weight or threshold: each is reported."""
    change, expected = CHANGES[name]
    manifest, weights = _committed()
    change(manifest, weights)
    other = _written(tmp_path, manifest, weights)
    found = train_classifier.differences(other, MODEL_DIR, validation)
    assert any(line.startswith(expected) for line in found), found


@pytest.mark.timeout(900)  # about 2 minutes of CPU: three fits of C over 20k windows
def test_full_retraining_rebuilds_the_committed_model(
    tmp_path: Path, validation: list[corpora.Sample]
) -> None:
    """`python -m eval.train_classifier` rebuilds the committed model: bit for bit on the machine
    that trained it, and on any other within the tolerances `differences()` states (same data, C,
    thresholds and decisions; weights and probabilities within float noise)."""
    rebuilt = train_classifier.train(tmp_path / "model").parent
    assert train_classifier.differences(rebuilt, MODEL_DIR, validation) == []
