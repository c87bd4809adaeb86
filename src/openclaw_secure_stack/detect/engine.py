"""The detection engine: normalized text, one RE2 set pass, spans only for rules that fired.

`Detector.detect(text, kind)` is pure (no I/O) and linear in the size of the text:
1. normalize (`normalize.normalize`) and run one `re2.Set` over it to learn which patterns fire;
2. find embedded base64 and hex runs that decode to readable text, and run the set over those;
3. only if something fired, compute original spans (normalization keeps an offset map) by running
   the individual patterns that fired.
The verdict is the strongest action among the rules that fired (reject > strip > flag > pass);
every verdict carries its rule ids and spans, so it can always be explained.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import re2

from openclaw_secure_stack.detect.normalize import normalize, normalize_with_offsets
from openclaw_secure_stack.detect.rules import Action, Family, Rule, RuleFile

Decision = Literal["reject", "strip", "flag", "pass"]
ORDER: dict[Decision, int] = {"pass": 0, "flag": 1, "strip": 2, "reject": 3}

# Encoded runs worth decoding: long base64/hex alphabets only (a short run cannot hide a sentence).
_ENCODED_RUN = re2.compile(r"[A-Za-z0-9+/]{24,}={0,2}")
_HEX = re2.compile(r"(?:[0-9a-fA-F]{2})+")
_SET_MEMORY = 256 << 20  # RE2 returns "no match" when its DFA runs out of memory: give it room.


class TextTooLarge(ValueError):
    """The text is larger than the engine's per-field cap; callers answer 413 or refuse it."""


@dataclass(frozen=True)
class Limits:
    max_text_chars: int = 4 << 20
    max_decoded_runs: int = 32
    max_decoded_chars: int = 256 << 10
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

    def to_record(self) -> dict[str, object]:
        """The JSON shape used by the `detect` command, the audit log and error bodies."""
        return {
            "verdict": self.decision,
            "rules": list(self.rule_ids),
            "spans": [
                {"rule": s.rule_id, "start": s.start, "end": s.end, "view": s.view}
                for s in self.spans
            ],
        }


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


def _readable(raw: bytes) -> str | None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    letters = sum(c.isalpha() for c in text)
    printable = sum(c.isprintable() or c.isspace() for c in text)
    if printable < 0.95 * len(text) or letters < 0.6 * len(text) or " " not in text:
        return None
    return text


def _decoded_runs(text: str, limits: Limits) -> Iterator[_Decoded]:
    budget = limits.max_decoded_chars
    runs = 0
    for match in _ENCODED_RUN.finditer(text):
        if runs >= limits.max_decoded_runs or budget <= 0:
            return
        run = match.group()
        runs += 1
        view: Literal["base64", "hex"]
        try:
            if _HEX.fullmatch(run):
                raw, view = bytes.fromhex(run[: 2 * budget]), "hex"
            else:
                body = run.rstrip("=")[: 4 * (budget // 3 + 1)]
                raw = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
                view = "base64"
        except (ValueError, binascii.Error):
            continue
        decoded = _readable(raw)
        if decoded is not None:
            budget -= len(decoded)
            yield _Decoded(match.start(), match.end(), view, decoded)


_BOUNDED = re2.compile(r"\{0,[0-9]+\}")


def _relaxed(pattern: str) -> str:
    """`pattern` with `{0,n}` widened to `*`: a superset that keeps the set's DFA small.

    Counted repetitions multiply DFA states when many patterns share one set; the exact pattern
    confirms every candidate, so the verdict is unchanged.
    """
    relaxed: str = _BOUNDED.sub("*", pattern)
    return relaxed


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
                self._set.Add(_relaxed(pattern))
                self._owners.append(rule)
                self._patterns.append(re2.compile(pattern, options))
        self._set.Compile()
        self.rules = rule_file.rules
        self.by_id = {rule.id: rule for rule in rule_file.rules}

    def fired(self, text: str) -> list[int]:
        """Indices of the patterns that match `text` exactly (the set pass is a superset)."""
        candidates: list[int] = self._set.Match(text) or []
        return [i for i in candidates if self._patterns[i].search(text) is not None]

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

    def __init__(self, direct: RuleFile, indirect: RuleFile, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._matchers: dict[Family, _Matcher] = {
            "direct": _Matcher(direct),
            "indirect": _Matcher(indirect),
        }

    def rules(self, kind: Family) -> tuple[Rule, ...]:
        return self._matchers[kind].rules

    def rule(self, kind: Family, rule_id: str) -> Rule:
        return self._matchers[kind].by_id[rule_id]

    def detect(self, text: str, kind: Family, source: str | None = None) -> Verdict:
        """Which rules of `kind` fire on `text` (only those applying to `source`, if given)."""
        if len(text) > self.limits.max_text_chars:
            raise TextTooLarge(
                f"text of {len(text)} characters exceeds the {self.limits.max_text_chars} cap"
            )
        matcher = self._matchers[kind]

        def applies(index: int) -> bool:
            return source is None or source in matcher.owner(index).applies_to

        fired_here = [i for i in matcher.fired(normalize(text)) if applies(i)]
        fired_decoded: list[tuple[_Decoded, list[int]]] = []
        for decoded in _decoded_runs(text, self.limits):
            indices = [i for i in matcher.fired(normalize(decoded.text)) if applies(i)]
            if indices:
                fired_decoded.append((decoded, indices))
        if not fired_here and not fired_decoded:
            return PASS

        spans: list[Span] = []
        if fired_here:
            mapped = normalize_with_offsets(text)
            for index in fired_here:
                rule_id = matcher.owner(index).id
                for start, end in matcher.spans(index, mapped.text, self.limits.max_spans_per_rule):
                    original = mapped.original_span(start, end)
                    spans.append(Span(rule_id, original[0], original[1]))
        for decoded, indices in fired_decoded:
            spans.extend(
                Span(matcher.owner(i).id, decoded.start, decoded.end, decoded.view) for i in indices
            )
        fired_rules = {matcher.owner(i) for i in fired_here} | {
            matcher.owner(i) for _, indices in fired_decoded for i in indices
        }
        decision: Action = max((r.action for r in fired_rules), key=lambda a: ORDER[a])
        unique_spans = sorted(set(spans), key=lambda s: (s.start, s.end, s.rule_id))
        return Verdict(decision, tuple(sorted(r.id for r in fired_rules)), tuple(unique_spans))

    def strip(self, text: str, verdict: Verdict, kind: Family) -> str:
        """`text` without the spans of rules whose action is `strip`."""
        stripping = {r.id for r in self._matchers[kind].rules if r.action == "strip"}
        return strip_spans(text, [s for s in verdict.spans if s.rule_id in stripping])
