"""Normalization: folding hides nothing, and every character maps back to its original."""
# ruff: noqa: RUF001 - homoglyphs and invisible characters are the test input

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from openclaw_secure_stack.detect.normalize import collapse, normalize, normalize_with_offsets


def test_folds_case_width_homoglyphs_and_whitespace() -> None:
    """Full-width, Cyrillic look-alikes, accents, case and whitespace runs all fold to ASCII."""
    assert normalize("ＩＧＮＯＲＥ  \t іgnоrе\n\nÉcole") == "ignore ignore ecole"


def test_removes_invisible_bidi_tag_and_control_characters() -> None:
    """Zero-width, bidi controls, U+E0000 tags and NULs vanish instead of splitting words."""
    hidden = "ig\u200bn\u202eo\U000e0072\x00re"
    assert normalize(hidden) == "ignore"


def test_decodes_html_url_and_backslash_escapes() -> None:
    """HTML references, %XX runs and \\xNN / \\uNNNN runs are decoded before folding."""
    assert (
        normalize("&#105;gnore %70revious \\x69\\x67 \\u0069 &lt;b&gt;")
        == "ignore previous ig i <b>"
    )


def test_offsets_point_at_the_original_characters() -> None:
    """Each normalized character maps to the original characters it came from."""
    text = "  &#105;g\u200bn  ORE"
    mapped = normalize_with_offsets(text)
    assert mapped.text == "ign ore"
    pieces = [text[mapped.starts[i] : mapped.ends[i]] for i in range(len(mapped.text))]
    assert pieces == ["&#105;", "g", "n", "  ", "O", "R", "E"]
    assert mapped.original_span(0, len(mapped.text)) == (2, len(text))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_fast_and_offset_paths_agree(text: str) -> None:
    """The fast path and the offset-keeping path produce the same normalized text."""
    mapped = normalize_with_offsets(text)
    assert mapped.text == normalize(text)
    assert len(mapped.starts) == len(mapped.ends) == len(mapped.text)
    assert all(0 <= s < e <= len(text) for s, e in zip(mapped.starts, mapped.ends, strict=True))


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("ab &#%\\x0123456789;ltgu\u200b\u0301Ié ")), max_size=120)
)
def test_escape_heavy_text_agrees(text: str) -> None:
    """Dense escape-like text keeps both paths equal and offsets inside the text."""
    mapped = normalize_with_offsets(text)
    assert mapped.text == normalize(text)
    assert all(0 <= s < e <= len(text) for s, e in zip(mapped.starts, mapped.ends, strict=True))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("a &#%\\xu0123456789;ltAF\u00e9\u2500")), max_size=80))
def test_byte_level_unescape_matches_the_offset_keeping_one(text: str) -> None:
    """The fast, byte-level escape decoding gives exactly the text the offset path sees.
    (Lone surrogates never get here: the engine replaces them first.)"""
    from openclaw_secure_stack.detect.normalize import _unescape, _unescape_text

    assert _unescape_text(text) == _unescape(text).text


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(
        alphabet=st.sampled_from(list("ab &#%\\x0123456789;lt\n\t\u200b\u0301\ufb03ßIé\u3000 ")),
        min_size=300,
        max_size=1500,
    ),
    covering=st.integers(0, 400),
)
def test_a_covering_prefix_maps_exactly_like_the_whole_text(text: str, covering: int) -> None:
    """Offsets computed on a prefix cut at a space or newline equal those of the whole text."""
    whole = normalize_with_offsets(text)
    prefix = normalize_with_offsets(text, covering=covering)
    size = len(prefix.text)
    assert size >= min(covering, len(whole.text))
    assert prefix.text == whole.text[:size]
    assert prefix.starts.tolist() == whole.starts[:size].tolist()
    assert prefix.ends.tolist() == whole.ends[:size].tolist()


@settings(max_examples=100, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("ab ;\t\n\r\x0b\x0c\x1c\x1f")), min_size=1, max_size=300)
)
def test_long_ascii_collapse_matches_split_and_join(unit: str) -> None:
    """The numpy collapse of long ASCII text equals `" ".join(text.split())`."""
    text = unit * (4096 // len(unit) + 1)
    assert collapse(text) == " ".join(text.split())
