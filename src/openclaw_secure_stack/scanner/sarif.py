"""SARIF 2.1.0, so code-scanning tools show the findings: one run, the rules as the driver's
rules, one result per finding with its unit-relative location."""

from __future__ import annotations

import json
from collections.abc import Sequence

from openclaw_secure_stack.scanner.model import Severity, UnitReport
from openclaw_secure_stack.scanner.rules import RuleBook

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVEL: dict[Severity, str] = {
    "info": "note",
    "low": "note",
    "medium": "warning",
    "high": "error",
    "critical": "error",
}
SECURITY_SEVERITY: dict[Severity, str] = {
    "info": "0.0",
    "low": "3.0",
    "medium": "5.0",
    "high": "8.0",
    "critical": "9.5",
}


def to_sarif(reports: Sequence[UnitReport], book: RuleBook, version: str) -> str:
    rules = list(book.rules.values())
    index = {rule.id: position for position, rule in enumerate(rules)}
    results = []
    for report in reports:
        base = report.path.rstrip("/") + "/" if report.kind != "file" else ""
        for finding in report.findings:
            results.append(
                {
                    "ruleId": finding.rule_id,
                    "ruleIndex": index[finding.rule_id],
                    "level": LEVEL[finding.severity],
                    "message": {"text": finding.message},
                    "locations": [
                        {
                            "physicalLocation": {
                                "artifactLocation": {
                                    "uri": base + finding.file if base else report.path
                                },
                                "region": {"startLine": finding.line},
                            }
                        }
                    ],
                    "properties": {
                        "unit": report.unit,
                        "verdict": report.verdict,
                        "score": report.score,
                        "confidence": finding.confidence,
                        "origin": finding.origin,
                        "declared": finding.declared,
                    },
                }
            )
    document = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "openclaw-secure-stack scan",
                        "version": version,
                        "informationUri": "https://www.npmjs.com/package/openclaw",
                        "rules": [
                            {
                                "id": rule.id,
                                "name": rule.title,
                                "shortDescription": {"text": rule.title},
                                "fullDescription": {"text": rule.rationale},
                                "defaultConfiguration": {"level": LEVEL[rule.severity]},
                                "properties": {
                                    "category": rule.category,
                                    "confidence": rule.confidence,
                                    "security-severity": SECURITY_SEVERITY[rule.severity],
                                    "tags": ["security", rule.category],
                                },
                            }
                            for rule in rules
                        ],
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(document, indent=2) + "\n"
