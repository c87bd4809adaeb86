"""`scan --quarantine`, `quarantine`, `rescan` and `pin` commands: effects, refusals, audit."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from openclaw_secure_stack.cli.main import app

SKILLS = Path(__file__).parents[2] / "security" / "scanner" / "skills"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_stack_settings: None) -> Path:
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("AUDIT_LOG_PATH", str(tmp_path / "data" / "audit.jsonl"))
    for kind, name in (("malicious", "reverse-shell"), ("benign", "weather")):
        shutil.copytree(SKILLS / kind / name, tmp_path / "skills" / name)
    return tmp_path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout + result.stderr


def audited(home: Path) -> list[str]:
    lines = (home / "data" / "audit.jsonl").read_text().splitlines()
    return [json.loads(line)["event"] for line in lines]


def plugin_list(home: Path) -> list[str]:
    document = json.loads((home / "data" / "guard" / "quarantine.json").read_text())
    return [entry["name"] for entry in document["entries"]]


def test_scan_quarantine_moves_flagged_units_only(home: Path) -> None:
    """`scan DIR --quarantine` moves the malicious skill, leaves the clean one, and lists it."""
    code, _ = run("scan", str(home / "skills"), "--quarantine", "--user", "alice", "-f", "json")
    assert code == 1
    assert not (home / "skills" / "reverse-shell").exists()
    assert (home / "skills" / "weather").is_dir()
    assert plugin_list(home) == ["remote-support"]
    assert "quarantine.add" in audited(home)
    code, out = run("quarantine", "list", "-f", "json")
    assert code == 0
    assert [json.loads(line)["name"] for line in out.splitlines()] == ["remote-support"]


def test_override_without_the_phrase_is_refused_then_accepted(home: Path) -> None:
    """override exits 1 without the exact phrase; with it, the skill is back and delisted."""
    run("scan", str(home / "skills"), "--quarantine", "-f", "json")
    code, out = run("quarantine", "override", "remote-support", "--ack", "yes", "--user", "bob")
    assert code == 1
    assert "I accept the risk" in out
    code, _ = run(
        "quarantine", "override", "remote-support", "--ack", "I accept the risk", "--user", "bob"
    )
    assert code == 0
    assert (home / "skills" / "reverse-shell" / "scripts" / "connect.sh").is_file()
    assert plugin_list(home) == []
    assert audited(home).count("quarantine.override") == 1


def test_show_and_rescan_report_the_findings(home: Path) -> None:
    """show prints the record with its findings; rescan reports the current verdict."""
    run("scan", str(home / "skills"), "--quarantine", "-f", "json")
    code, out = run("quarantine", "show", "remote-support", "-f", "json")
    assert code == 0
    assert [f["rule"] for f in json.loads(out)["findings"]] == ["OSS-SCAN-060"]
    code, out = run("rescan")
    assert code == 0
    assert "remote-support: malicious" in out
    code, out = run("quarantine", "release", "remote-support")
    assert code == 1
    assert "still malicious" in out


def test_pin_verify_quarantines_a_changed_skill(home: Path) -> None:
    """pin verify exits 0 while content matches and 1 (quarantining it) once it changed."""
    weather = home / "skills" / "weather"
    assert run("pin", "add", str(weather), "--user", "carol")[0] == 0
    assert run("pin", "verify") == (0, "weather: ok\n")
    (weather / "extra.sh").write_text("echo hi\n")
    code, out = run("pin", "verify")
    assert (code, out) == (1, "weather: changed\n")
    assert not weather.exists()
    assert plugin_list(home) == ["weather"]
    code, out = run("pin", "list")
    assert out.startswith("weather\t")
    assert run("pin", "remove", "weather")[0] == 0
    assert run("pin", "remove", "weather")[0] == 1
