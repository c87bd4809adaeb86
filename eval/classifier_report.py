"""Rules alone, classifier alone, and both, on direct text the classifier never trained on.

    uv run python -m eval.classifier_report

Sets: the S-Labs and neuralchemy `test` splits (injections and benign), the `test` documents
wheels (rich, fastapi: READMEs and source files, scanned as if pasted into chat), and the
hand-written topic questions. None of them was used to train, tune or pick thresholds.

Verdicts: rules = the direct rule file through the engine in-process; classifier = the committed
model at its recorded `flag` and `reject` thresholds; both = the stronger of the two (the
combination the stack applies). "hit" is any verdict other than pass; "block" is reject (or a
rules strip). Times are in-process medians over 1 KB messages and whole documents.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from eval import corpora
from eval.corpora import Sample
from openclaw_secure_stack.detect import load_detector
from openclaw_secure_stack.detect.classifier import Classifier
from openclaw_secure_stack.settings import load_settings

SETS: dict[str, Callable[[Sample], bool]] = {
    "slabs test": lambda s: s.source == "slabs" and s.split == "test",
    "neuralchemy core-test": lambda s: s.source == "neuralchemy" and s.split == "test",
    "documents test": lambda s: s.source == "documents" and s.split == "test",
    "topic questions": lambda s: s.source == "topic_questions",
}
ORDER = {"pass": 0, "flag": 1, "strip": 2, "reject": 3}


@dataclass
class Verdicts:
    rules: str
    model: str

    @property
    def both(self) -> str:
        return max(self.rules, self.model, key=ORDER.__getitem__)


def model_verdict(classifier: Classifier, probability: float) -> str:
    if probability >= classifier.reject_threshold:
        return "reject"
    return "flag" if probability >= classifier.flag_threshold else "pass"


def rate(verdicts: list[str], blocking: bool) -> str:
    hits = sum(v in ("reject", "strip") if blocking else v != "pass" for v in verdicts)
    return f"{hits / len(verdicts):7.2%}" if verdicts else "    n/a"


def median_ms(function: Callable[[str], object], texts: list[str], repeat: int = 3) -> float:
    timings = []
    for text in texts:
        best = min(_time(function, text) for _ in range(repeat))
        timings.append(best)
    return statistics.median(timings) * 1e3


def _time(function: Callable[[str], object], text: str) -> float:
    started = time.perf_counter()
    function(text)
    return time.perf_counter() - started


def main() -> int:
    settings = load_settings()
    detector = load_detector(settings.prompt_rules_path, settings.indirect_rules_path)
    classifier = Classifier.load(corpora.resources.CLASSIFIER_MODEL)
    samples = corpora.load("slabs", "neuralchemy", "documents", "topic_questions")
    print(
        f"thresholds: flag {classifier.flag_threshold}, reject {classifier.reject_threshold}\n"
        f"{'set':<24} {'label':<10} {'n':>5}   {'rules hit':>9} {'model hit':>9} "
        f"{'both hit':>9}   {'rules blk':>9} {'model blk':>9} {'both blk':>9}"
    )
    for name, member in SETS.items():
        chosen = [
            s for s in samples if member(s) and (s.kind == "direct" or s.source == "documents")
        ]
        for label in ("injection", "benign"):
            rows = [s for s in chosen if s.label == label]
            if not rows:
                continue
            verdicts = [
                Verdicts(
                    detector.detect(s.text, "direct").decision,
                    model_verdict(classifier, classifier.probability(s.text)),
                )
                for s in rows
            ]
            cells = [
                rate([getattr(v, who) for v in verdicts], blocking)
                for blocking in (False, True)
                for who in ("rules", "model", "both")
            ]
            print(
                f"{name:<24} {label:<10} {len(rows):>5}   {cells[0]:>9} {cells[1]:>9} "
                f"{cells[2]:>9}   {cells[3]:>9} {cells[4]:>9} {cells[5]:>9}"
            )
    messages = [
        (s.text * (1024 // max(len(s.text), 1) + 1))[:1024]
        for s in samples
        if s.source == "slabs" and s.split == "test"
    ][:300]
    documents = [s.text for s in samples if SETS["documents test"](s)]
    kib = sum(len(d.encode()) for d in documents) / 1024
    print("\nspeed (median of best-of-3 per text):")
    for who, function in (
        ("rules", lambda t: detector.detect(t, "direct")),
        ("model", classifier.probability),
        ("model + top n-grams", classifier.score),
    ):
        per_message = median_ms(function, messages)
        started = time.perf_counter()
        for document in documents:
            function(document)
        total = time.perf_counter() - started
        print(
            f"  {who:<20} 1 KB message {per_message:.3f} ms;  documents {kib:,.0f} KiB: "
            f"{total * 1e3 / kib:.4f} ms/KB, {kib / 1024 / total:.1f} MB/s"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
