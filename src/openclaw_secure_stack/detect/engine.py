"""The detection engine: normalized text, one RE2 set pass, spans only for rules that fired.

`Detector.detect(text, kind)` is pure (no I/O) and linear in the size of the text:
1. fold the text (`normalize.fold`) and run one `re2.Set` of widened patterns over it
   (`prefilter`), then confirm the candidates exactly on the normalized text;
2. find embedded base64 and hex runs that decode to readable text, and run the set over those;
3. only if something fired, compute original spans (normalization keeps an offset map) by running
   the individual patterns that fired.
The verdict is the strongest action among the rules that fired (reject > strip > flag > pass);
every verdict carries its rule ids and spans, so it can always be explained.
For direct text, a detector given a `Classifier` also scores the text with the model; the verdict
is then the stronger of the rules' action and the model's (`flag` or `reject` by its thresholds;
the model never strips), and carries the model's probability and top n-grams.
"""

from __future__ import annotations

import base64
import binascii
import re
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, replace
from itertools import accumulate
from typing import Literal

import re2

from openclaw_secure_stack.detect.classifier import Assessment, Classifier
from openclaw_secure_stack.detect.normalize import collapse, fold, normalize_with_offsets
from openclaw_secure_stack.detect.prefilter import widen
from openclaw_secure_stack.detect.rules import Action, Family, Rule, RuleFile

Decision = Literal["reject", "strip", "flag", "pass"]
ORDER: dict[Decision, int] = {"pass": 0, "flag": 1, "strip": 2, "reject": 3}

# Encoded runs worth decoding: long base64/hex alphabets only (a short run cannot hide a sentence).
_ENCODED_RUN = re2.compile(rb"[A-Za-z0-9+/]{24,}={0,2}")
_HEX = re2.compile(rb"(?:[0-9a-fA-F]{2})+")
_SET_MEMORY = 256 << 20  # RE2 returns "no match" when its DFA runs out of memory: give it room.


class TextTooLarge(ValueError):
    """The text is larger than the engine's per-field cap; callers answer 413 or refuse it."""


@dataclass(frozen=True)
class Limits:
    max_text_chars: int = 4 << 20
    max_spans_per_rule: int = 32


@dataclass(frozen=True)
class Span:
    """Original `text[start:end]` that triggered `rule_id`; `view` says whether it was decoded."""

    rule_id: str
    start: int
    end: int
    view: Literal["text", "base64", "hex"] = "text"


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    rule_ids: tuple[str, ...] = ()
    spans: tuple[Span, ...] = ()
    classifier: Assessment | None = None

    def to_record(self) -> dict[str, object]:
        """The JSON shape used by the `detect` command, the audit log and error bodies."""
        record: dict[str, object] = {
            "verdict": self.decision,
            "rules": list(self.rule_ids),
            "spans": [
                {"rule": s.rule_id, "start": s.start, "end": s.end, "view": s.view}
                for s in self.spans
            ],
        }
        if self.classifier is not None:
            record["classifier"] = self.classifier.to_record()
        return record


PASS = Verdict("pass")


def strip_spans(text: str, spans: tuple[Span, ...] | list[Span]) -> str:
    """`text` with every span removed (overlapping spans merged)."""
    cursor = 0
    parts: list[str] = []
    for span in sorted(spans, key=lambda s: (s.start, s.end)):
        if span.end <= cursor:
            continue
        parts.append(text[cursor : max(cursor, span.start)])
        cursor = span.end
    parts.append(text[cursor:])
    return "".join(parts)


@dataclass(frozen=True)
class _Decoded:
    start: int
    end: int
    view: Literal["base64", "hex"]
    text: str


_LETTERS = bytes(range(65, 91)) + bytes(range(97, 123))
_PRINTABLE = bytes(range(32, 127)) + b"\t\n\r"


def _readable(raw: bytes) -> str | None:
    """The decoded text if it reads as text (mostly letters, with spaces), else None."""
    if raw.isascii():
        letters = len(raw) - len(raw.translate(None, _LETTERS))
        printable = len(raw) - len(raw.translate(None, _PRINTABLE))
        text_length = len(raw)
        if printable < 0.95 * text_length or letters < 0.6 * text_length or b" " not in raw:
            return None
        return raw.decode("ascii")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    letters = sum(map(str.isalpha, text))
    printable = sum(c.isprintable() or c.isspace() for c in text)
    if printable < 0.95 * len(text) or letters < 0.6 * len(text) or " " not in text:
        return None
    return text


def _decoded_runs(text: str) -> Iterator[_Decoded]:
    """Base64 and hex runs of `text` that decode to readable text.

    No cap is needed for bounded work: runs do not overlap, decoding is linear, and the decoded
    text is shorter than the runs, so the extra scanning is at most the size of the input.
    """
    encoded = text.encode()
    same_offsets = len(encoded) == len(text)
    byte_cursor = char_cursor = 0  # byte offsets to character offsets, decoding each byte once
    for match in _ENCODED_RUN.finditer(encoded):
        run: bytes = match.group()
        view: Literal["base64", "hex"]
        try:
            if _HEX.fullmatch(run):
                raw, view = bytes.fromhex(run.decode()), "hex"
            else:
                body = run.rstrip(b"=")
                raw, view = (
                    base64.b64decode(body + b"=" * (-len(body) % 4), validate=True),
                    "base64",
                )
        except (ValueError, binascii.Error):
            continue
        decoded = _readable(raw)
        if decoded is None:
            continue
        start, end = match.span()
        if not same_offsets:  # the run itself is ASCII
            char_cursor += len(encoded[byte_cursor:start].decode())
            byte_cursor = start
            start = char_cursor
            end = start + len(run)
        yield _Decoded(start, end, view, decoded)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _encodable(text: str) -> str:
    """`text` with lone surrogates (JSON can carry "\\ud800") replaced by U+FFFD, one for one,
    so every offset still points into the original; they cannot be encoded for RE2."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


class _Matcher:
    """One family's rules compiled: a set over all patterns, and each pattern alone for spans."""

    def __init__(self, rule_file: RuleFile) -> None:
        options = re2.Options()
        options.max_mem = _SET_MEMORY
        self._set = re2.Set.SearchSet(options)
        self._owners: list[Rule] = []
        self._patterns: list[re2._Regexp] = []
        for rule in rule_file.rules:
            for pattern in rule.patterns:
                self._set.Add(widen(pattern))
                self._owners.append(rule)
                self._patterns.append(re2.compile(pattern, options))
        self._set.Compile()
        self.rules = rule_file.rules
        self.by_id = {rule.id: rule for rule in rule_file.rules}

    def fired(self, folded: str) -> tuple[list[int], str]:
        """Indices of the patterns matching the normalized form of `folded` (`normalize.fold`
        output), and that normalized text (empty if nothing fired). The set pass runs on
        `folded` with widened patterns; only candidates are confirmed exactly."""
        candidates: list[int] = self._set.Match(folded) or []
        if not candidates:
            return [], ""
        normalized = collapse(folded)
        return [i for i in candidates if self._patterns[i].search(normalized)], normalized

    def owner(self, index: int) -> Rule:
        return self._owners[index]

    def spans(self, index: int, text: str, limit: int) -> Iterator[tuple[int, int]]:
        for count, match in enumerate(self._patterns[index].finditer(text)):
            if count >= limit:
                return
            if match.end() > match.start():
                yield match.span()


class Detector:
    """Direct and indirect rules compiled once; `detect()` is thread-safe and pure."""

    def __init__(
        self,
        direct: RuleFile,
        indirect: RuleFile,
        limits: Limits | None = None,
        classifier: Classifier | None = None,
    ) -> None:
        self.limits = limits or Limits()
        self.classifier = classifier
        self._matchers: dict[Family, _Matcher] = {
            "direct": _Matcher(direct),
            "indirect": _Matcher(indirect),
        }

    def rules(self, kind: Family) -> tuple[Rule, ...]:
        return self._matchers[kind].rules

    def rule(self, kind: Family, rule_id: str) -> Rule:
        return self._matchers[kind].by_id[rule_id]

    def detect(self, text: str, kind: Family, source: str | None = None) -> Verdict:
        """Which rules of `kind` fire on `text` (only those applying to `source`, if given);
        for direct text with a classifier, combined with the model's decision."""
        text = _encodable(text)
        verdict = self._rules_verdict(text, kind, source)
        if kind != "direct" or self.classifier is None:
            return verdict
        assessment = self.classifier.assess(text)
        decision = max(verdict.decision, assessment.decision, key=ORDER.__getitem__)
        return replace(verdict, decision=decision, classifier=assessment)

    def _rules_verdict(self, text: str, kind: Family, source: str | None) -> Verdict:
        if len(text) > self.limits.max_text_chars:
            raise TextTooLarge(
                f"text of {len(text)} characters exceeds the {self.limits.max_text_chars} cap"
            )
        matcher = self._matchers[kind]

        def applies(index: int) -> bool:
            return source is None or source in matcher.owner(index).applies_to

        fired_here, normalized = matcher.fired(fold(text))
        fired_here = [i for i in fired_here if applies(i)]
        # All decoded runs form one text (one set pass, however many runs; a phrase split over
        # two adjacent blobs is caught too); a match maps back to the runs it came from.
        runs = list(_decoded_runs(text))
        joined = "\n".join(run.text for run in runs)
        fired_decoded, joined_normalized = matcher.fired(fold(joined)) if runs else ([], "")
        fired_decoded = [i for i in fired_decoded if applies(i)]
        if not fired_here and not fired_decoded:
            return PASS

        spans: list[Span] = []
        for rule_id, low, high in self._original_spans(matcher, fired_here, text, normalized):
            spans.append(Span(rule_id, low, high))
        run_starts = list(accumulate((len(run.text) + 1 for run in runs[:-1]), initial=0))
        for rule_id, low, high in self._original_spans(
            matcher, fired_decoded, joined, joined_normalized
        ):
            first = runs[bisect_right(run_starts, low) - 1]
            last = runs[bisect_right(run_starts, high - 1) - 1]
            spans.append(Span(rule_id, first.start, last.end, first.view))
        fired_rules = {matcher.owner(i) for i in fired_here + fired_decoded}
        decision: Action = max((r.action for r in fired_rules), key=lambda a: ORDER[a])
        unique_spans = sorted(set(spans), key=lambda s: (s.start, s.end, s.rule_id))
        return Verdict(decision, tuple(sorted(r.id for r in fired_rules)), tuple(unique_spans))

    def _original_spans(
        self, matcher: _Matcher, indices: list[int], text: str, normalized: str
    ) -> Iterator[tuple[str, int, int]]:
        """(rule id, start, end) in `text` for each match of the fired patterns, capped per rule.

        Matches are found on the normalized text first; the offset map is built only if any."""
        found = [
            (matcher.owner(i).id, span)
            for i in indices
            for span in matcher.spans(i, normalized, self.limits.max_spans_per_rule)
        ]
        if not found:
            return
        mapped = normalize_with_offsets(text)
        for rule_id, (start, end) in found:
            low, high = mapped.original_span(start, end)
            yield rule_id, low, high

    def strip(self, text: str, verdict: Verdict, kind: Family) -> str:
        """`text` without the spans of rules whose action is `strip`."""
        stripping = {r.id for r in self._matchers[kind].rules if r.action == "strip"}
        return strip_spans(text, [s for s in verdict.spans if s.rule_id in stripping])
