"""Widened set patterns never miss what the exact pattern finds after whitespace collapsing."""

from __future__ import annotations

import json

import pytest
import re2
from hypothesis import given, settings
from hypothesis import strategies as st

from openclaw_secure_stack import resources
from openclaw_secure_stack.detect.normalize import collapse, fold
from openclaw_secure_stack.detect.prefilter import widen

RULES = [
    rule
    for name in ("prompt-rules.json", "indirect-injection-rules.json")
    for rule in json.loads((resources.packaged(name)).read_text())["rules"]
]
PATTERNS = sorted({p for rule in RULES for p in rule["patterns"]})
EXAMPLES = [
    t for rule in RULES for t in rule["examples"]["positive"] + rule["examples"]["negative"]
]
WHITESPACE = st.text(
    alphabet=" \t\n\r\x0b\x0c\x1c\x85\u2028\u2029\u3000\xa0", min_size=1, max_size=4
)


def test_literal_spaces_and_bounds_are_widened() -> None:
    """A space becomes a whitespace run, a bounded repeat loses its upper bound, anchors go."""
    widened = widen(r"^a b[^.]{0,5}c.d\s?e{2,3}$")
    assert re2.search(widened, "a \n\t bxyz  wc\n\nd  eeeee")
    assert not re2.search(widened, "ab c d e")


@pytest.mark.parametrize("pattern", PATTERNS)
def test_every_shipped_pattern_widens_to_a_valid_regex(pattern: str) -> None:
    """Each shipped pattern's widened form compiles in RE2."""
    re2.compile(widen(pattern))


@settings(max_examples=400, deadline=None)
@given(
    example=st.sampled_from(EXAMPLES),
    runs=st.lists(WHITESPACE, min_size=1, max_size=40),
    lead=WHITESPACE,
)
def test_widened_patterns_are_supersets(example: str, runs: list[str], lead: str) -> None:
    """With spaces turned into arbitrary whitespace runs, widened patterns still match."""
    words = example.split(" ")
    text = lead + "".join(w + runs[i % len(runs)] for i, w in enumerate(words))
    folded = fold(text)
    normalized = collapse(folded)
    for pattern in PATTERNS:
        if re2.search(pattern, normalized):
            assert re2.search(widen(pattern), folded), pattern
