"""Findings to a trust score and a verdict."""

from __future__ import annotations

from openclaw_secure_stack.scanner.model import Confidence, Finding, Origin, Severity
from openclaw_secure_stack.scanner.scoring import score


def _finding(
    rule: str,
    severity: Severity,
    confidence: Confidence = "high",
    origin: Origin = "own",
    *,
    declared: bool = False,
) -> Finding:
    return Finding(rule, "a.js", 1, "m", severity, confidence, "c", origin, declared)


def test_nothing_found_is_clean_100() -> None:
    """No findings: clean with a perfect score."""
    assert score([]) == (100, "clean")


def test_low_and_info_findings_stay_clean() -> None:
    """A low finding lowers the score but does not call for review."""
    assert score([_finding("A", "low"), _finding("B", "info")]) == (96, "clean")


def test_a_rule_counts_once() -> None:
    """Repeats of one rule (a bundle calling fetch a hundred times) count as one."""
    assert score([_finding("A", "medium")] * 50) == (88, "review")


def test_declared_behaviour_is_not_scored() -> None:
    """A finding for a host the unit declares counts nothing."""
    assert score([_finding("A", "high", declared=True)]) == (100, "clean")


def test_critical_high_confidence_is_malicious() -> None:
    """One critical, high-confidence finding in the unit's own code is malicious."""
    assert score([_finding("A", "critical")])[1] == "malicious"


def test_dependency_findings_weigh_half_and_do_not_decide_alone() -> None:
    """A critical finding in a bundled dependency lowers the score, half as much (capped), and
    calls for review, not more."""
    assert score([_finding("A", "critical", origin="dependency")]) == (70, "review")


def test_dependency_noise_is_capped_and_stays_clean() -> None:
    """Medium findings in many bundled libraries lower the score by at most 30: still clean."""
    findings = [_finding(f"R{i}", "medium", origin="dependency") for i in range(20)]
    assert score(findings) == (70, "clean")


def test_dependency_critical_reverse_shell_is_malicious() -> None:
    """A reverse shell is malicious wherever it sits, bundled code included."""
    shell = Finding("S", "x.sh", 1, "m", "critical", "high", "reverse-shell", "dependency")
    assert score([shell])[1] == "malicious"


def test_two_strong_behaviours_are_malicious() -> None:
    """Two high-severity, high-confidence behaviours together are malicious."""
    assert score([_finding("A", "high"), _finding("B", "high")]) == (40, "malicious")
