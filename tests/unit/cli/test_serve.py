"""`serve`: unusable configuration stops start-up with exit code 2 and names the setting."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from openclaw_secure_stack.cli.main import app
from openclaw_secure_stack.proxy.testing import (
    TEST_AUDIT_KEY,
    TEST_CLIENT_TOKENS,
    TEST_GATEWAY_TOKEN,
)

GOOD = {
    "OPENCLAW_GATEWAY_TOKEN": TEST_GATEWAY_TOKEN,
    "CLIENT_TOKENS": f"alice:{TEST_CLIENT_TOKENS['alice']}",
    "AUDIT_KEY": TEST_AUDIT_KEY,
}


@pytest.fixture(autouse=True)
def _environment(no_stack_settings: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The packaged config files and an audit log in tmp_path."""
    monkeypatch.setenv("AUDIT_LOG_PATH", str(tmp_path / "audit.jsonl"))


def serve(**environment: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["serve"], env=environment)
    # `output` holds what went to stdout and stderr, in order.
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("missing", "named"),
    [
        ("OPENCLAW_GATEWAY_TOKEN", "OPENCLAW_GATEWAY_TOKEN"),
        ("CLIENT_TOKENS", "CLIENT_TOKENS"),
        ("AUDIT_KEY", "AUDIT_KEY"),
    ],
)
def test_required_setting_missing(missing: str, named: str) -> None:
    """Without the gateway token, a client token or the audit key, serve refuses to start."""
    environment = {k: v for k, v in GOOD.items() if k != missing}
    code, output = serve(**environment)
    assert code == 2
    assert "error:" in output
    assert named in output


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PROXY_PORT", "99999"),
        ("UPSTREAM_URL", "ftp://openclaw"),
        ("AUDIT_KEY", "too-short"),
        ("MAX_BODY_BYTES", "10"),
        ("CLIENT_TOKENS", "alice:short"),
    ],
)
def test_invalid_setting_is_named(name: str, value: str) -> None:
    """A value that cannot be used is reported with the variable's name, exit code 2."""
    code, output = serve(**{**GOOD, name: value})
    assert code == 2
    assert name in output


def test_unreadable_rules_file_stops_start_up(tmp_path: Path) -> None:
    """A missing detection rules file is a start-up error, not a proxy without detection."""
    code, output = serve(**GOOD, PROMPT_RULES_PATH=str(tmp_path / "missing.json"))
    assert code == 2
    assert "missing.json" in output


def test_help_explains_what_is_needed() -> None:
    """serve --help names the settings it requires."""
    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    for name in ("OPENCLAW_GATEWAY_TOKEN", "CLIENT_TOKENS", "AUDIT_KEY"):
        assert name in result.output


def _broken_inputs(inputs: Path) -> dict[str, dict[str, str | None]]:
    inputs.mkdir()
    (inputs / "rules.json").write_text("{")
    (inputs / "model.json").write_text('{"version": 1}')
    (inputs / "tokens").write_text(f"bob:{TEST_GATEWAY_TOKEN}\n")
    return {
        "prompt rules": {"PROMPT_RULES_PATH": str(inputs / "rules.json")},
        "indirect rules": {"INDIRECT_RULES_PATH": str(inputs / "rules.json")},
        "classifier model": {"CLASSIFIER_MODEL_PATH": str(inputs / "model.json")},
        "audit key": {"AUDIT_KEY": None},
        "gateway token in the tokens file": {"CLIENT_TOKENS_FILE": str(inputs / "tokens")},
    }


@pytest.mark.parametrize(
    "case",
    [
        "prompt rules",
        "indirect rules",
        "classifier model",
        "audit key",
        "gateway token in the tokens file",
    ],
)
def test_a_refused_start_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    """With the default AUDIT_LOG_PATH (under the working directory), a configuration that
    cannot be used exits 2 with one error, and no `.oss-data/` or anything else is created."""
    change = _broken_inputs(tmp_path / "inputs")[case]
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    monkeypatch.chdir(run_dir)
    monkeypatch.delenv("AUDIT_LOG_PATH")
    environment = {key: value for key, value in {**GOOD, **change}.items() if value is not None}
    code, output = serve(**environment)
    assert code == 2, output
    assert output.count("error:") == 1, output
    assert list(run_dir.iterdir()) == []


def test_a_usable_configuration_gets_as_far_as_the_audit_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same run with good files reaches the audit log check: a broken log is named."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    monkeypatch.chdir(run_dir)
    (run_dir / "log-is-a-file").write_text("x")
    code, output = serve(**GOOD, AUDIT_LOG_PATH=str(run_dir / "log-is-a-file" / "audit.jsonl"))
    assert code == 2
    assert "audit log" in output and "log-is-a-file" in output
