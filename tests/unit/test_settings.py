"""The one configuration object: defaults, environment, `.env`, and errors that name the setting."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from openclaw_secure_stack.settings import Settings, SettingsError, load_settings

REPO = Path(__file__).resolve().parents[2]


pytestmark = pytest.mark.usefixtures("no_stack_settings")


def test_defaults_are_the_documented_ones() -> None:
    settings = load_settings()
    assert settings.proxy_port == 8080
    assert settings.max_body_bytes == 10 * 1024 * 1024
    assert settings.connect_timeout == 30.0
    assert settings.stream_read_timeout == 300.0
    assert settings.upstream_url == "http://127.0.0.1:18789"


def test_environment_and_dotenv_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("PROXY_PORT=9090\nCLIENT_TOKENS=alice:a-token,ci:b-token\n")
    monkeypatch.setenv("UPSTREAM_URL", "http://127.0.0.1:1234/")
    settings = load_settings()
    assert settings.proxy_port == 9090
    assert settings.client_tokens == {"alice": "a-token", "ci": "b-token"}
    assert settings.upstream_url == "http://127.0.0.1:1234"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("PROXY_PORT", "70000", "PROXY_PORT: Input should be less than or equal to 65535"),
        ("PROXY_PORT", "eighty", "PROXY_PORT: Input should be a valid integer"),
        ("UPSTREAM_URL", "127.0.0.1:18789", "UPSTREAM_URL: Value error, must start with http://"),
        ("AUDIT_KEY", "short", "AUDIT_KEY: Value error, must be at least 32 characters"),
        ("CLIENT_TOKENS", "alice", "CLIENT_TOKENS: Value error, CLIENT_TOKENS line 1: expected"),
        ("CLIENT_TOKENS", "a:x,a:y", "token name 'a' appears twice"),
        ("MAX_BODY_BYTES", "10", "MAX_BODY_BYTES: Input should be greater than or equal to 1024"),
    ],
)
def test_a_bad_value_names_the_setting_and_the_fix(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value).startswith("invalid configuration:\n  ")
    assert message in str(caught.value)


def test_every_problem_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROXY_PORT", "0")
    monkeypatch.setenv("AUDIT_KEY", "short")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "PROXY_PORT:" in str(caught.value)
    assert "AUDIT_KEY:" in str(caught.value)


def test_secrets_do_not_appear_in_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDIT_KEY", "hunter2-secret")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "hunter2" not in str(caught.value)


def test_readme_documents_every_setting() -> None:
    """The README's configuration table has one row per setting, so none is undocumented."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([A-Z0-9_]+)` \|", readme, flags=re.MULTILINE))
    assert documented == {name.upper() for name in Settings.model_fields}
