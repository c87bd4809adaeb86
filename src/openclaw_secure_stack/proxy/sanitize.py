"""Sanitize stage: injection rules on every text of a chat request that reaches the model, as
OpenClaw will build it, before OpenClaw sees it.

`prompt.py` extracts the texts exactly as the pinned OpenClaw joins them (its docstring lists,
field by field, which rule family scans what and what is refused). Per verdict:
- reject: 400 `{"error": {"code": "prompt_injection", "rules": [...]}}`, nothing is forwarded;
- strip: the matched spans are cut out of the body's own strings (a span that crosses two
  content parts is cut from both), the texts are rebuilt and scanned again, up to
  `MAX_STRIP_ROUNDS` times: stripping must never forward text a rule would catch (cutting
  `<|im_end|>` out of `Ign<|im_end|>ore all previous instructions` makes a reject phrase). A text
  that still needs stripping after the last round, or a span with nothing of the body's own left
  to cut, is rejected;
- flag: forwarded unchanged, and the response carries `x-oss-request-findings`.
Every finding goes to `flow.findings` (rule id, severity, action, which text and which body
fields: never the text), which the audit stage records. When the classifier's score flags or
rejects a user turn, the finding's rule is `classifier`, with its probability (not its n-grams:
those are user text). A body that is not JSON (UTF-8, as OpenClaw reads it), or not the
expected shape, is a 400; over the body cap a 413 (the body reader enforces it); text over the
engine's cap a 413.
Scanning runs in a worker thread for bodies above `detect_thread_threshold_bytes` (32 KiB).
Measured here (2 cores, a coroutine timing `sleep(0)` while scanning): 32 KB scans inline in
~0.4 ms; the scan is mostly GIL-bound, so a thread does not make it faster, but it lets the
event loop run between GIL slices: for 1 MB the worst loop stall was ~27 ms threaded against
~47 ms inline.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from openclaw_secure_stack.detect import Detector, TextTooLarge, Verdict, strip_spans
from openclaw_secure_stack.detect.classifier import FINDING_RULE
from openclaw_secure_stack.detect.engine import ORDER, Decision, Span
from openclaw_secure_stack.detect.rules import Family
from openclaw_secure_stack.proxy.flow import Flow, Reject, Response
from openclaw_secure_stack.proxy.prompt import Field, Scanned, chat_texts, responses_texts

Extractor = Callable[[dict[str, Any]], list[Scanned]]
EXTRACTORS: dict[str, Extractor] = {
    "/v1/chat/completions": chat_texts,
    "/v1/responses": responses_texts,
}
REQUEST_FINDINGS_NOTE = "request_findings"
MAX_STRIP_ROUNDS = 4


@dataclass
class Outcome:
    """What scanning decided: the strongest verdict over all rounds, and the audit-safe
    findings. `changed` says the document was rewritten (strip)."""

    decision: Decision = "pass"
    findings: list[Mapping[str, object]] = field(default_factory=list)
    changed: bool = False
    reason: str = "the message was refused by the prompt-injection rules"

    @property
    def rules(self) -> list[str]:
        return sorted({str(finding["rule"]) for finding in self.findings})

    def error(self) -> dict[str, object]:
        return {"code": "prompt_injection", "message": self.reason, "rules": self.rules}


class Scanner:
    """Scans the texts an extractor finds in a JSON document, stripping in place until the
    result is stable (pure apart from rewriting the document; thread-safe)."""

    def __init__(self, detector: Detector, stage: str) -> None:
        self._detector = detector
        self._stage = stage

    def settle(self, document: dict[str, Any], extract: Extractor) -> Outcome:
        outcome = Outcome()
        for _ in range(MAX_STRIP_ROUNDS):
            scanned = [(text, self._verdict(text)) for text in self._checked(extract(document))]
            decision: Decision = max(
                (v.decision for _, v in scanned), key=ORDER.__getitem__, default="pass"
            )
            self._record(outcome, scanned)
            if decision != "strip":
                outcome.decision = max(outcome.decision, decision, key=ORDER.__getitem__)
                return outcome
            outcome.decision = "strip"
            if not self._cut(scanned):
                return _refused(outcome, "a match could not be removed from the message")
            outcome.changed = True
        return _refused(outcome, "stripping did not leave a clean message; refused")

    def _checked(self, texts: list[Scanned]) -> list[Scanned]:
        if sum(len(text.rope.text) for text in texts) > self._detector.limits.max_text_chars:
            raise Reject(413, "text_too_large", "the message text exceeds the scanning limit")
        return texts

    def _verdict(self, text: Scanned) -> Verdict:
        try:
            if text.kind != "classifier":
                return self._detector.detect(text.rope.text, text.kind, classify=False)
        except TextTooLarge as exc:
            raise Reject(413, "text_too_large", str(exc)) from None
        model = self._detector.classifier
        if model is None:
            return Verdict("pass")
        assessment = model.assess(text.rope.text)
        return Verdict(assessment.decision, classifier=assessment)

    def _record(self, outcome: Outcome, scanned: list[tuple[Scanned, Verdict]]) -> None:
        for text, verdict in scanned:
            for rule_id in verdict.rule_ids:
                rule = self._detector.rule(
                    "direct" if text.kind == "direct" else "indirect", rule_id
                )
                spans = [s for s in verdict.spans if s.rule_id == rule_id]
                _add(outcome, self._finding(rule_id, rule.severity, rule.action, text, spans))
            model = verdict.classifier
            if model is not None and model.decision != "pass":
                spans = [Span(FINDING_RULE, 0, len(text.rope.text))]
                finding = self._finding(FINDING_RULE, "high", model.decision, text, spans)
                finding["probability"] = round(model.probability, 4)
                _add(outcome, finding)

    def _finding(
        self, rule: str, severity: str, action: str, text: Scanned, spans: list[Span]
    ) -> dict[str, object]:
        fields = sorted({f.where for s in spans for f, _, _ in text.rope.locate(s.start, s.end)})
        return {
            "stage": self._stage,
            "rule": rule,
            "severity": severity,
            "action": action,
            "text": text.name,
            "fields": fields,
        }

    def _cut(self, scanned: list[tuple[Scanned, Verdict]]) -> bool:
        """Remove every strip span from the body fields it came from; False if none changed."""
        cuts: dict[str, tuple[Field, list[Span]]] = {}
        for text, verdict in scanned:
            if text.kind == "classifier":
                continue
            family: Family = "direct" if text.kind == "direct" else "indirect"
            for span in verdict.spans:
                if self._detector.rule(family, span.rule_id).action != "strip":
                    continue
                for target, low, high in text.rope.locate(span.start, span.end):
                    cuts.setdefault(target.where, (target, []))[1].append(
                        Span(span.rule_id, low, high)
                    )
        changed = False
        for target, spans in cuts.values():
            cleaned = strip_spans(target.text, spans)
            if cleaned != target.text:
                target.put(cleaned)
                changed = True
        return changed


def _add(outcome: Outcome, finding: Mapping[str, object]) -> None:
    """Record a finding once, however many strip rounds see it."""
    if finding not in outcome.findings:
        outcome.findings.append(finding)


def _refused(outcome: Outcome, reason: str) -> Outcome:
    outcome.decision, outcome.reason = "reject", reason
    return outcome


def strict_json(text: str) -> object:
    """JSON with finite numbers only (NaN or 1e999 could not be written back as JSON after a
    strip); ValueError otherwise."""
    return json.loads(text, parse_constant=_no_constant, parse_float=_finite)


def parse_json(raw: bytes) -> object:
    """The JSON document, read as UTF-8 (a BOM or another encoding is refused with 400)."""
    try:
        return strict_json(raw.decode("utf-8"))
    except ValueError:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise Reject(400, "invalid_json", "the request body is not valid JSON") from None


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


class Sanitize:
    name: ClassVar[str] = "sanitize"
    sees_answered: ClassVar[bool] = False

    def __init__(self, detector: Detector, *, thread_threshold: int) -> None:
        self._scanner = Scanner(detector, self.name)
        self._thread_threshold = thread_threshold

    async def __call__(self, flow: Flow) -> None:
        request = flow.request
        extract = EXTRACTORS.get(request.path)
        if request.method != "POST" or extract is None:
            return
        raw = await request.body.read()
        document = parse_json(raw)
        if not isinstance(document, dict):
            raise Reject(400, "invalid_body", "the JSON body must be an object")
        if len(raw) > self._thread_threshold:
            outcome = await asyncio.to_thread(self._scanner.settle, document, extract)
        else:
            outcome = self._scanner.settle(document, extract)
        if outcome.decision == "pass":
            return
        flow.findings.extend(outcome.findings)
        flow.notes["sanitize"] = outcome.decision
        if outcome.decision == "reject":
            flow.response = Response.json(400, {"error": outcome.error()})
            flow.notes["denied"] = "prompt_injection"
            return
        if outcome.changed:
            request.body.replace(json.dumps(document, separators=(",", ":")).encode())
        flow.notes[REQUEST_FINDINGS_NOTE] = outcome.rules
