"""The detection engine: normalized text, one RE2 set pass, spans only for rules that fired.

`Detector.detect(text, kind)` is pure (no I/O) and linear in the size of the text:
1. fold the text (`normalize.fold`) and run one `re2.Set` of widened patterns over it
   (`prefilter`), then confirm the candidates exactly on the normalized text;
2. find embedded base64 and hex runs that decode to readable text (`encoded`), and run the set
   over those;
3. only if something fired, compute original spans (normalization keeps an offset map) by running
   the individual patterns that fired.
The verdict is the strongest action among the rules that fired (reject > strip > flag > pass);
every verdict carries its rule ids and spans, so it can always be explained.
For direct text, a detector given a `Classifier` also scores the text with the model; the verdict
is then the stronger of the rules' action and the model's (`flag` or `reject` by its thresholds;
the model never strips), and carries the model's probability and top n-grams.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Literal

import re2

from openclaw_secure_stack.detect.classifier import Assessment, Classifier
from openclaw_secure_stack.detect.encoded import decoded_runs
from openclaw_secure_stack.detect.normalize import collapse, fold, normalize_with_offsets
from openclaw_secure_stack.detect.prefilter import widen
from openclaw_secure_stack.detect.rules import Action, Family, Rule, RuleFile

Decision = Literal["reject", "strip", "flag", "pass"]
ORDER: dict[Decision, int] = {"pass": 0, "flag": 1, "strip": 2, "reject": 3}

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

    def detect(
        self, text: str, kind: Family, source: str | None = None, *, classify: bool = True
    ) -> Verdict:
        """Which rules of `kind` fire on `text` (only those applying to `source`, if given);
        for direct text with a classifier (unless `classify` is false), combined with the
        model's decision."""
        text = _encodable(text)
        verdict = self._rules_verdict(text, kind, source)
        if kind != "direct" or self.classifier is None or not classify:
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
        runs = decoded_runs(text)
        fired_decoded, joined_normalized = matcher.fired(fold(runs.text)) if runs else ([], "")
        fired_decoded = [i for i in fired_decoded if applies(i)]
        if not fired_here and not fired_decoded:
            return PASS

        spans: list[Span] = []
        for rule_id, low, high in self._original_spans(matcher, fired_here, text, normalized):
            spans.append(Span(rule_id, low, high))
        if runs is not None:
            for rule_id, low, high in self._original_spans(
                matcher, fired_decoded, runs.text, joined_normalized
            ):
                spans.append(Span(rule_id, *runs.original(low, high)))
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
        mapped = normalize_with_offsets(text, covering=max(end for _, (_, end) in found))
        for rule_id, (start, end) in found:
            low, high = mapped.original_span(start, end)
            yield rule_id, low, high

    def strip(self, text: str, verdict: Verdict, kind: Family) -> str:
        """`text` without the spans of rules whose action is `strip`."""
        stripping = {r.id for r in self._matchers[kind].rules if r.action == "strip"}
        return strip_spans(text, [s for s in verdict.spans if s.rule_id in stripping])
