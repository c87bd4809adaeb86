"""The shipped scanner rules: load fail-closed, every example holds, code and data agree."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from openclaw_secure_stack import resources
from openclaw_secure_stack.detect import Detector
from openclaw_secure_stack.scanner import Limits, Scanner, ScannerRulesError, discover
from openclaw_secure_stack.scanner.engine import Scanner as EngineScanner
from openclaw_secure_stack.scanner.rules import load_rulebook

SCANNER_SOURCES = Path(resources.__file__).parent / "scanner"
DOCUMENT = json.loads(resources.SCANNER_RULES.read_text())
# The examples of OSS-SCAN-098 (file over the cap) need a small cap; every example fits in it.
EXAMPLE_CAP = 4096


def _examples(polarity: str) -> list[tuple[str, str, str]]:
    return [
        (rule["id"], example["file"], example["code"])
        for rule in DOCUMENT["rules"]
        for example in rule["examples"][polarity]
    ]


@pytest.fixture(scope="module")
def capped(detector: Detector) -> Scanner:
    return EngineScanner(load_rulebook(resources.SCANNER_RULES), detector, Limits(EXAMPLE_CAP))


def _fired(scanner: Scanner, tmp_path: Path, name: str, code: str) -> set[str]:
    path = tmp_path / name
    # Examples of binary files are written byte for byte (code points 0-255).
    binary = name in ("helper", "logo.png", "helper.bin", "payload.dat")
    raw = code.encode("latin-1") if binary else code.encode()
    path.write_bytes(raw)
    with discover(path) as units:
        return {finding.rule_id for finding in scanner.scan_unit(units[0]).findings}


@pytest.mark.parametrize(("rule_id", "name", "code"), _examples("positive"))
def test_positive_example_fires_its_rule(
    capped: Scanner, tmp_path: Path, rule_id: str, name: str, code: str
) -> None:
    """Every positive example, scanned as a file of its name, fires its rule."""
    assert rule_id in _fired(capped, tmp_path, name, code)


@pytest.mark.parametrize(("rule_id", "name", "code"), _examples("negative"))
def test_negative_example_does_not_fire_its_rule(
    capped: Scanner, tmp_path: Path, rule_id: str, name: str, code: str
) -> None:
    """No negative example fires its rule."""
    assert rule_id not in _fired(capped, tmp_path, name, code)


def test_every_rule_is_raised_by_code_or_patterns() -> None:
    """A rule id the code raises exists in the data, and every rule in the data is raised by
    the code or carries patterns: no rule that cannot fire, no finding without metadata."""
    in_code = set()
    for source in SCANNER_SOURCES.glob("*.py"):
        in_code |= set(re.findall(r"OSS-SCAN-\d{3}", source.read_text()))
    in_data = {rule["id"] for rule in DOCUMENT["rules"]}
    with_patterns = {rule["id"] for rule in DOCUMENT["rules"] if rule.get("patterns")}
    assert in_code <= in_data
    assert in_data - in_code <= with_patterns


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["rules"][0].update(severity="severe"), "severity"),
        (lambda d: d["rules"][0].update(patterns=["(unclosed"], scopes=["prose"]), "RE2"),
        (lambda d: d["rules"].append(d["rules"][0]), "duplicate rule ids"),
        (lambda d: d["rules"][0]["examples"].update(positive=[]), "positive"),
        (lambda d: d.update(schema=2), "schema"),
    ],
)
def test_bad_rules_file_is_refused(tmp_path: Path, mutate: object, message: str) -> None:
    """A rules file with a bad value is refused with ScannerRulesError naming the problem."""
    document = json.loads(resources.SCANNER_RULES.read_text())
    mutate(document)  # type: ignore[operator]
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(document))
    with pytest.raises(ScannerRulesError, match=message):
        load_rulebook(path)


def test_missing_rules_file_names_the_setting(tmp_path: Path) -> None:
    """A missing rules file is refused with the setting's name."""
    with pytest.raises(ScannerRulesError, match="SCANNER_RULES_PATH"):
        load_rulebook(tmp_path / "absent.json")
