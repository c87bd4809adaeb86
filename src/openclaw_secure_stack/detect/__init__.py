"""Prompt-injection detection: rules as data, normalized text, one linear-time RE2 pass.

`load_detector(direct_path, indirect_path)` loads both rule families fail-closed (`RulesError`);
`Detector.detect(text, "direct" | "indirect")` returns an explainable `Verdict`. Given a
`Classifier` (`load_classifier`, fail-closed with `ClassifierError`, a `RulesError`), direct
verdicts also carry the model's score.
"""

from __future__ import annotations

from pathlib import Path

from openclaw_secure_stack.detect.classifier import Classifier, ClassifierError, load_classifier
from openclaw_secure_stack.detect.engine import (
    Detector,
    Limits,
    Span,
    TextTooLarge,
    Verdict,
    strip_spans,
)
from openclaw_secure_stack.detect.rules import RuleFile, RulesError, load_rules
from openclaw_secure_stack.settings import DetectionConfig

__all__ = [
    "Classifier",
    "ClassifierError",
    "Detector",
    "Limits",
    "RuleFile",
    "RulesError",
    "Span",
    "TextTooLarge",
    "Verdict",
    "load_classifier",
    "load_configured_detector",
    "load_detector",
    "load_rules",
    "strip_spans",
]


def load_detector(
    direct_path: Path,
    indirect_path: Path,
    limits: Limits | None = None,
    classifier: Classifier | None = None,
) -> Detector:
    """Both rule files loaded and compiled, or `RulesError` naming what is wrong."""
    return Detector(
        load_rules(direct_path, "direct"),
        load_rules(indirect_path, "indirect"),
        limits,
        classifier,
    )


def load_configured_detector(config: DetectionConfig) -> Detector:
    """The detector `serve` runs: both rule files and the classifier with its thresholds."""
    classifier = load_classifier(
        config.classifier_model, config.flag_threshold, config.reject_threshold
    )
    return load_detector(config.prompt_rules, config.indirect_rules, classifier=classifier)
