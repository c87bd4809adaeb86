"""What the scanner produces: findings, and per unit a verdict and a trust score."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["info", "low", "medium", "high", "critical"]
Confidence = Literal["low", "medium", "high"]
VerdictName = Literal["clean", "review", "malicious"]
# Where a file comes from: the unit's own code, or a dependency it bundles (node_modules/,
# vendored bundles). Bundled code is scanned too; reports can tell the two apart.
Origin = Literal["own", "dependency"]

SEVERITIES: tuple[Severity, ...] = ("info", "low", "medium", "high", "critical")
CONFIDENCES: tuple[Confidence, ...] = ("low", "medium", "high")
VERDICTS: tuple[VerdictName, ...] = ("clean", "review", "malicious")


@dataclass(frozen=True)
class Finding:
    rule_id: str
    file: str  # relative to the unit's root, with forward slashes
    line: int  # 1-based
    message: str
    severity: Severity
    confidence: Confidence
    category: str
    origin: Origin = "own"
    # Set when the behaviour is one the unit declares (a host it names): reported, not scored.
    declared: bool = False

    def to_record(self) -> dict[str, object]:
        return {
            "rule": self.rule_id,
            "file": self.file,
            "line": self.line,
            "message": self.message,
            "severity": self.severity,
            "confidence": self.confidence,
            "category": self.category,
            "origin": self.origin,
            "declared": self.declared,
        }


@dataclass(frozen=True)
class UnitReport:
    unit: str  # the unit's name (skill name, package name or path)
    path: str
    kind: Literal["skill", "package", "file", "directory"]
    verdict: VerdictName
    score: int  # trust score, 0 (certainly malicious) to 100 (nothing found)
    findings: tuple[Finding, ...]
    files: int
    bytes: int
    sha256: str = ""
    errors: tuple[str, ...] = field(default=())

    def to_record(self) -> dict[str, object]:
        return {
            "unit": self.unit,
            "path": self.path,
            "kind": self.kind,
            "verdict": self.verdict,
            "score": self.score,
            "sha256": self.sha256,
            "files": self.files,
            "bytes": self.bytes,
            "findings": [finding.to_record() for finding in self.findings],
            "errors": list(self.errors),
        }
