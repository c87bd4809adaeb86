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
    return result.exit_code, result.output + (result.stderr if result.stderr_bytes else "")


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
