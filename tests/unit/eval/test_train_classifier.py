"""Classifier training: deterministic bytes, no test data, and the committed figures reproduce."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

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


def test_committed_validation_figures_reproduce() -> None:
    """Scoring the validation sets with the committed model gives the figures it records."""
    classifier = Classifier.load(MODEL_DIR / "model.json")
    manifest = json.loads((MODEL_DIR / "model.json").read_text(encoding="utf-8"))
    samples = corpora.load(*train_classifier.TRAINING_SOURCES)
    benign, attacks = evaluate(classifier, [s for s in samples if role(s) == "validation"])
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


@pytest.mark.timeout(900)  # about 2 minutes of CPU: three fits of C over 20k windows
def test_full_retraining_rebuilds_the_committed_model(tmp_path: Path) -> None:
    """`python -m eval.train_classifier` rebuilds the committed model bit for bit."""
    rebuilt = train_classifier.train(tmp_path / "model").parent
    assert _digest(rebuilt) == _digest(MODEL_DIR)
