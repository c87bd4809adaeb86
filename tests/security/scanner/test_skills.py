"""Hand-written, inert malicious skills are `malicious` with the behaviours they show; benign
skills are `clean`; archives of them get the same verdicts as their folders."""

from __future__ import annotations

import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openclaw_secure_stack import resources
from openclaw_secure_stack.detect import load_detector
from openclaw_secure_stack.scanner import Limits, Scanner, UnitReport, discover, load_scanner

SKILLS = Path(__file__).parent / "skills"
MALICIOUS: dict[str, set[str]] = {
    # ClawHub "Prerequisites": a file host and a password for the archive.
    "password-archive": {"OSS-SCAN-022", "OSS-SCAN-052", "OSS-SCAN-056"},
    # A paste site and "run it in Terminal".
    "paste-terminal": {"OSS-SCAN-022", "OSS-SCAN-053", "OSS-SCAN-056"},
    # echo <base64> | base64 -D | bash, decoding to curl from a raw IP piped to bash.
    "base64-prereq": {"OSS-SCAN-051", "OSS-SCAN-012", "OSS-SCAN-021"},
    "reverse-shell": {"OSS-SCAN-060"},
    # The agent's config, .env and the environment posted to a webhook catcher.
    "webhook-exfil": {"OSS-SCAN-023", "OSS-SCAN-031", "OSS-SCAN-071", "OSS-SCAN-070"},
    # SSH key, browser logins and a wallet posted to a raw IP.
    "stealer-py": {"OSS-SCAN-030", "OSS-SCAN-021", "OSS-SCAN-070"},
    # A download from a raw IP run from the shell's startup file and a launch agent.
    "persistence": {"OSS-SCAN-040", "OSS-SCAN-021", "OSS-SCAN-056"},
    # globalThis['ev'+'al'] of a base64 payload, require('child_'+'process').
    "evasion-js": {"OSS-SCAN-010", "OSS-SCAN-012", "OSS-SCAN-013", "OSS-SCAN-001"},
    # postinstall: curl from a raw IP piped to sh; a dependency from a URL.
    "postinstall": {"OSS-SCAN-090", "OSS-SCAN-050", "OSS-SCAN-021", "OSS-SCAN-091"},
    # Zero-width characters and an HTML comment telling the agent to send the SSH key.
    "hidden-injection": {"OSS-SCAN-081", "OSS-SCAN-080", "OSS-SCAN-030"},
}
BENIGN = ("weather", "notes", "git-log-reader", "summarizer-py", "ts-plugin")


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    detector = load_detector(resources.PROMPT_RULES, resources.INDIRECT_RULES)
    return load_scanner(resources.SCANNER_RULES, detector)


def _scan(scanner: Scanner, path: Path) -> list[UnitReport]:
    with discover(path) as units:
        return [scanner.scan_unit(unit) for unit in units]


@pytest.mark.parametrize("name", sorted(MALICIOUS))
def test_malicious_skill_is_malicious(scanner: Scanner, name: str) -> None:
    """Each malicious skill is `malicious`, with (at least) the rules of its behaviours."""
    [report] = _scan(scanner, SKILLS / "malicious" / name)
    fired = {finding.rule_id for finding in report.findings}
    assert report.verdict == "malicious"
    assert MALICIOUS[name] <= fired, f"missing {MALICIOUS[name] - fired}"
    assert report.score <= 40


@pytest.mark.parametrize("name", BENIGN)
def test_benign_skill_is_clean(scanner: Scanner, name: str) -> None:
    """Benign skills (including `retrieval(`, `model.eval`, `evaluate`, a declared API host,
    shell blocks without pipes into a shell) are clean with nothing above `low`."""
    [report] = _scan(scanner, SKILLS / "benign" / name)
    assert report.verdict == "clean"
    assert [f for f in report.findings if f.severity not in ("info", "low")] == []


def test_directory_of_skills_is_one_unit_per_skill(scanner: Scanner) -> None:
    """A folder of skills gives one report per skill, named from the front matter."""
    reports = _scan(scanner, SKILLS / "malicious")
    assert len(reports) == len(MALICIOUS)
    assert {report.verdict for report in reports} == {"malicious"}
    assert "crypto-portfolio" in {report.unit for report in reports}


@pytest.mark.parametrize("kind", ["tgz", "zip"])
def test_archive_gets_the_verdict_of_its_folder(
    scanner: Scanner, tmp_path: Path, kind: str
) -> None:
    """A .tgz (npm pack layout, under package/) or .zip of a skill is scanned like the folder."""
    source = SKILLS / "malicious" / "evasion-js"
    if kind == "tgz":
        archive = tmp_path / "skill.tgz"
        with tarfile.open(archive, "w:gz") as tar:
            tar.add(source, arcname="package")
    else:
        archive = tmp_path / "skill.zip"
        with zipfile.ZipFile(archive, "w") as zipped:
            for path in source.rglob("*"):
                zipped.write(path, path.relative_to(source).as_posix())
    [from_archive] = _scan(scanner, archive)
    [from_folder] = _scan(scanner, source)
    assert from_archive.verdict == from_folder.verdict == "malicious"
    assert from_archive.findings == from_folder.findings
    assert from_archive.path == str(archive)


def test_bundled_dependency_is_marked(scanner: Scanner, tmp_path: Path) -> None:
    """Findings under node_modules/ are marked as a dependency's and weigh less."""
    unit = tmp_path / "plugin"
    shutil.copytree(SKILLS / "benign" / "ts-plugin", unit)
    dependency = unit / "node_modules" / "dep"
    dependency.mkdir(parents=True)
    (dependency / "index.js").write_text("module.exports = (s) => eval(s);\n")
    [report] = _scan(scanner, unit)
    [finding] = [f for f in report.findings if f.rule_id == "OSS-SCAN-001"]
    assert finding.origin == "dependency"
    assert finding.file == "node_modules/dep/index.js"
    assert report.score == 85  # 100 - 30 (high, high confidence) / 2


def test_minified_bundle_is_folded(scanner: Scanner, tmp_path: Path) -> None:
    """A minified file is recognised and one rule's repeats in it are folded (not drowned)."""
    bundle = tmp_path / "bundle.min.js"
    bundle.write_text(";".join(f"eval(a{i})" for i in range(400)) + "\n")
    [report] = _scan(scanner, bundle)
    rules = [f.rule_id for f in report.findings]
    assert "OSS-SCAN-096" in rules
    assert rules.count("OSS-SCAN-001") == 3
    assert any("fired 400 times" in error for error in report.errors)


def test_parse_errors_are_reported_and_scanned(scanner: Scanner, tmp_path: Path) -> None:
    """A file that does not parse is reported and its text is still scanned."""
    broken = tmp_path / "broken.js"
    broken.write_text("function ( {\n  fetch('http://203.0.113.8/x'\n")
    [report] = _scan(scanner, broken)
    rules = {f.rule_id for f in report.findings}
    assert {"OSS-SCAN-095", "OSS-SCAN-021"} <= rules


def test_file_over_the_cap_is_not_a_silent_pass(tmp_path: Path) -> None:
    """A file over the size cap is reported, and the unit is not clean."""
    scanner = load_scanner(resources.SCANNER_RULES, limits=Limits(max_file_bytes=100))
    big = tmp_path / "big.js"
    big.write_text("const a = 1;\n" * 20)
    [report] = _scan(scanner, big)
    assert [f.rule_id for f in report.findings] == ["OSS-SCAN-098"]
    assert report.verdict == "review"


def test_link_to_a_credential_store_is_flagged(scanner: Scanner, tmp_path: Path) -> None:
    """A symlink is not followed, but one pointing at an SSH key is reported."""
    unit = tmp_path / "skill"
    shutil.copytree(SKILLS / "benign" / "notes", unit)
    (unit / "key").symlink_to(Path.home() / ".ssh" / "id_rsa")
    [report] = _scan(scanner, unit)
    assert [(f.rule_id, f.file) for f in report.findings] == [("OSS-SCAN-030", "key")]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=st.sampled_from(["a.js", "a.ts", "a.tsx", "a.sh", "a.py", "SKILL.md", "package.json"]),
    data=st.binary(max_size=2048),
)
def test_any_bytes_give_a_report_never_an_exception(
    scanner: Scanner, tmp_path: Path, name: str, data: bytes
) -> None:
    """Arbitrary bytes in any language's file give a report (never an exception)."""
    path = tmp_path / name
    path.write_bytes(data)
    [report] = _scan(scanner, path)
    assert report.verdict in ("clean", "review", "malicious")
    assert 0 <= report.score <= 100


def test_refused_archive_in_a_folder_is_reported_and_the_rest_scanned(
    scanner: Scanner, tmp_path: Path
) -> None:
    """In a folder of units, an archive that cannot be unpacked safely is a `review` unit
    saying why; the other units are still scanned."""
    folder = tmp_path / "skills"
    shutil.copytree(SKILLS / "benign" / "notes", folder / "notes")
    with zipfile.ZipFile(folder / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros", b"\0" * (8 << 20))
    reports = {Path(report.path).name: report for report in _scan(scanner, folder)}
    assert reports["notes"].verdict == "clean"
    bomb = reports["bomb.zip"]
    assert bomb.verdict == "review"
    assert [f.rule_id for f in bomb.findings] == ["OSS-SCAN-098"]
    assert "zip bomb" in bomb.findings[0].message
