"""Findings into a trust score (0-100) and a verdict.

Each rule counts once per unit, at its strongest finding: severity points times a confidence
factor, halved for bundled dependencies; declared behaviour and `info` findings count nothing.
The score is 100 minus the sum (floored at 0). The verdict:
- `malicious`: a critical finding of high confidence, or a score of 40 or less (say, two
  high-severity, high-confidence behaviours, such as a credential read and a webhook catcher);
- `review`: any counted finding of medium severity or more, or a score below 90;
- `clean`: otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence

from openclaw_secure_stack.scanner.model import Confidence, Finding, Severity, VerdictName

POINTS: dict[Severity, float] = {"info": 0, "low": 4, "medium": 12, "high": 30, "critical": 60}
FACTOR: dict[Confidence, float] = {"low": 0.3, "medium": 0.6, "high": 1.0}
DEPENDENCY_FACTOR = 0.5
MALICIOUS_SCORE = 40
REVIEW_SCORE = 90


def weight(finding: Finding) -> float:
    if finding.declared:
        return 0.0
    value = POINTS[finding.severity] * FACTOR[finding.confidence]
    return value * DEPENDENCY_FACTOR if finding.origin == "dependency" else value


def score(findings: Sequence[Finding]) -> tuple[int, VerdictName]:
    strongest: dict[str, float] = {}
    for finding in findings:
        strongest[finding.rule_id] = max(strongest.get(finding.rule_id, 0.0), weight(finding))
    trust = max(0, round(100 - sum(strongest.values())))
    counted = [f for f in findings if weight(f) > 0]
    if trust <= MALICIOUS_SCORE or any(
        f.severity == "critical" and f.confidence == "high" and f.origin == "own" for f in counted
    ):
        return trust, "malicious"
    if trust < REVIEW_SCORE or any(
        POINTS[f.severity] >= POINTS["medium"] and f.origin == "own" for f in counted
    ):
        return trust, "review"
    return trust, "clean"
