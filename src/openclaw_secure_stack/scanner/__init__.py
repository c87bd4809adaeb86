"""The skill scanner: skills, plugins, packages and archives to findings, a verdict and a score.

`load_scanner(rules_path, detector)` builds a `Scanner` from the rules file (fail-closed with
`ScannerRulesError`); `discover(path)` yields the units under a path (archives unpacked safely);
`Scanner.scan_unit(unit)` returns a `UnitReport`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from openclaw_secure_stack.detect import Detector
from openclaw_secure_stack.scanner.archive import ArchiveError, ArchiveLimits
from openclaw_secure_stack.scanner.engine import Limits, Scanner
from openclaw_secure_stack.scanner.model import Finding, UnitReport
from openclaw_secure_stack.scanner.pool import ScannerSpec, ScanPool
from openclaw_secure_stack.scanner.rules import RuleBook, ScannerRulesError, load_rulebook
from openclaw_secure_stack.scanner.units import InputError, Unit, discover
from openclaw_secure_stack.settings import Settings

__all__ = [
    "ArchiveError",
    "ArchiveLimits",
    "Finding",
    "InputError",
    "Limits",
    "RuleBook",
    "ScanPool",
    "Scanner",
    "ScannerRulesError",
    "ScannerSpec",
    "Unit",
    "UnitReport",
    "discover",
    "load_configured_scanner",
    "load_rulebook",
    "load_scanner",
]


def load_scanner(
    rules_path: Path,
    detector: Detector | None = None,
    limits: Limits | None = None,
    allowed_domains: frozenset[str] = frozenset(),
) -> Scanner:
    return Scanner(load_rulebook(rules_path), detector, limits, allowed_domains)


def load_configured_scanner(settings: Settings, allowed: Iterable[str] = ()) -> Scanner:
    """The scanner with the configured rules and the detection engine's indirect rules."""
    config = settings.detection_config()
    spec = ScannerSpec(
        settings.scanner_rules_path,
        config.prompt_rules,
        config.indirect_rules,
        Limits(),
        frozenset(domain.lower() for domain in allowed),
    )
    scanner = spec.build()
    scanner.spec = spec
    return scanner
