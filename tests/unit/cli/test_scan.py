"""`scan` command: JSON and SARIF shapes, the Rich report, and exit codes 0, 1 and 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from openclaw_secure_stack.cli.main import app

SKILLS = Path(__file__).parents[2] / "security" / "scanner" / "skills"
pytestmark = pytest.mark.usefixtures("no_stack_settings")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["scan", *args])
    return result.exit_code, result.stdout, result.stderr


def test_json_is_one_object_per_unit() -> None:
    """--format json prints one object per unit with unit, verdict, score and findings."""
    code, out, _ = run(str(SKILLS / "malicious"), "--format", "json")
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 1
    assert len(records) == 10
    reverse = next(r for r in records if r["unit"] == "remote-support")
    assert reverse["verdict"] == "malicious"
    assert reverse["score"] == 40
    assert reverse["findings"] == [
        {
            "rule": "OSS-SCAN-060",
            "file": "scripts/connect.sh",
            "line": 3,
            "message": "reverse shell: '/dev/tcp/203.0.113.5/4444'",
            "severity": "critical",
            "confidence": "high",
            "category": "reverse-shell",
            "origin": "own",
            "declared": False,
        }
    ]


def test_sarif_is_2_1_0_with_rules_and_locations() -> None:
    """--format sarif is SARIF 2.1.0: every result names a driver rule and a file and line."""
    code, out, _ = run(str(SKILLS / "malicious" / "reverse-shell"), "--format", "sarif")
    document = json.loads(out)
    assert code == 1
    assert document["version"] == "2.1.0"
    [run_] = document["runs"]
    rules = run_["tool"]["driver"]["rules"]
    [result] = run_["results"]
    assert rules[result["ruleIndex"]]["id"] == result["ruleId"] == "OSS-SCAN-060"
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"].endswith("reverse-shell/scripts/connect.sh")
    assert location["region"] == {"startLine": 3}
    assert result["level"] == "error"


def test_text_report_names_verdicts_and_rules() -> None:
    """The default report shows each unit's verdict, score and findings."""
    code, out, _ = run(str(SKILLS / "malicious" / "password-archive"))
    assert code == 1
    assert "MALICIOUS" in out
    assert "crypto-portfolio" in out
    assert "OSS-SCAN-052" in out


@pytest.mark.parametrize(("fail_on", "expected"), [("clean", 1), ("review", 0), ("malicious", 0)])
def test_fail_on_sets_the_threshold(tmp_path: Path, fail_on: str, expected: int) -> None:
    """A clean unit with a low finding (an unlisted host) fails only --fail-on clean."""
    script = tmp_path / "client.js"
    script.write_text("fetch('https://api.unlisted.test/v1');\n")
    code, out, _ = run(str(script), "--fail-on", fail_on, "-f", "json")
    assert json.loads(out)["verdict"] == "clean"
    assert code == expected


def test_fully_clean_unit_exits_0_even_on_fail_on_clean() -> None:
    """Nothing found at all: exit 0 whatever the threshold."""
    code, _, _ = run(str(SKILLS / "benign" / "notes"), "--fail-on", "clean")
    assert code == 0


def test_malicious_unit_reaches_every_threshold() -> None:
    """A malicious unit fails --fail-on malicious."""
    code, _, _ = run(str(SKILLS / "malicious" / "stealer-py"), "--fail-on", "malicious")
    assert code == 1


def test_missing_path_is_exit_2(tmp_path: Path) -> None:
    """A path that does not exist is an input error: exit 2 with a message."""
    code, _, err = run(str(tmp_path / "absent"))
    assert code == 2
    assert "does not exist" in err


def test_refused_archive_is_exit_2(tmp_path: Path) -> None:
    """An archive that cannot be unpacked safely is an input error: exit 2."""
    archive = tmp_path / "skill.tgz"
    archive.write_bytes(b"not a tarball")
    code, _, err = run(str(archive))
    assert code == 2
    assert "cannot unpack" in err


def test_bad_option_is_exit_2() -> None:
    """An unknown format is a usage error: exit 2."""
    code, _, _ = run(str(SKILLS), "--format", "xml")
    assert code == 2


def test_allow_domain_removes_the_host_finding() -> None:
    """--allow-domain adds a host (and its subdomains) to the allowlist."""
    target = str(SKILLS / "malicious" / "postinstall")
    _, before, _ = run(target, "-f", "json")
    _, after, _ = run(target, "-f", "json", "--allow-domain", "example.test")
    assert "files.example.test" in before
    assert "files.example.test" not in [f["message"] for f in json.loads(after)["findings"]]
