"""Findings into a trust score (0-100) and a verdict.

Each rule counts once per unit and origin, at its strongest finding: severity points times a
confidence factor; declared behaviour and `info` findings count nothing. Bundled dependencies'
findings count half, and together at most 30 points: real packages bundle libraries that use
`eval`, `Function` and processes, and that alone must not make a plugin `malicious`. The score
is 100 minus the sum (floored at 0). The verdict:
- `malicious`: a critical finding of high confidence (in a dependency too, for reverse shells,
  exfiltration and download-and-execute), or own code alone scoring 40 or less (say, two
  high-severity, high-confidence behaviours, such as a credential read and a webhook catcher);
- `review`: a counted finding of medium severity or more in own code (high, with high
  confidence, in a dependency), or own code alone scoring below 90;
- `clean`: otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence

from openclaw_secure_stack.scanner.model import Confidence, Finding, Severity, VerdictName

POINTS: dict[Severity, float] = {"info": 0, "low": 4, "medium": 12, "high": 30, "critical": 60}
FACTOR: dict[Confidence, float] = {"low": 0.3, "medium": 0.6, "high": 1.0}
DEPENDENCY_FACTOR = 0.5
DEPENDENCY_CAP = 30.0
# Critical behaviours that are malicious wherever they are, bundled code included.
ALWAYS_MALICIOUS = frozenset({"reverse-shell", "exfiltration", "download-exec"})
MALICIOUS_SCORE = 40
REVIEW_SCORE = 90


def weight(finding: Finding) -> float:
    if finding.declared:
        return 0.0
    value = POINTS[finding.severity] * FACTOR[finding.confidence]
    return value * DEPENDENCY_FACTOR if finding.origin == "dependency" else value


def score(findings: Sequence[Finding]) -> tuple[int, VerdictName]:
    strongest: dict[tuple[str, str], float] = {}
    for finding in findings:
        key = (finding.origin, finding.rule_id)
        strongest[key] = max(strongest.get(key, 0.0), weight(finding))
    own = sum(value for (origin, _), value in strongest.items() if origin == "own")
    bundled = sum(value for (origin, _), value in strongest.items() if origin != "own")
    trust = max(0, round(100 - own - min(bundled, DEPENDENCY_CAP)))
    counted = [f for f in findings if weight(f) > 0]
    if 100 - own <= MALICIOUS_SCORE or any(
        f.severity == "critical"
        and f.confidence == "high"
        and (f.origin == "own" or f.category in ALWAYS_MALICIOUS)
        for f in counted
    ):
        return trust, "malicious"
    if 100 - own < REVIEW_SCORE or any(
        POINTS[f.severity] >= POINTS["medium"]
        if f.origin == "own"
        else POINTS[f.severity] >= POINTS["high"] and f.confidence == "high"
        for f in counted
    ):
        return trust, "review"
    return trust, "clean"
