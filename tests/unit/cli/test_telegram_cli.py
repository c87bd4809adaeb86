"""`telegram set-webhook URL`: setWebhook with a generated secret the proxy then reads."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from tests.fakes.messaging import TELEGRAM_TOKEN, FakeTelegram
from typer.testing import CliRunner, Result

from openclaw_secure_stack.cli.main import app
from openclaw_secure_stack.settings import load_settings

URL = "https://relay.example/webhook/telegram"


def set_webhook(tmp_path: Path, telegram: FakeTelegram, *args: str, **env: str | None) -> Result:
    environment: dict[str, str | None] = {
        "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
        "TELEGRAM_API_URL": telegram.url,
        "DATA_DIR": str(tmp_path),
        **env,
    }
    return CliRunner().invoke(app, ["telegram", "set-webhook", *args], env=environment)


@pytest.mark.usefixtures("no_stack_settings")
def test_a_secret_is_generated_kept_and_sent(tmp_path: Path, telegram: FakeTelegram) -> None:
    telegram.clear()
    first = set_webhook(tmp_path, telegram, URL)
    second = set_webhook(tmp_path, telegram, URL, "--drop-pending")
    assert first.exit_code == second.exit_code == 0, first.output
    secret_file = tmp_path / "secrets" / "telegram-webhook-secret"
    secret = secret_file.read_text().strip()
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    calls = [call.body for call in telegram.calls]
    assert [body["secret_token"] for body in calls] == [secret, secret]
    assert calls[0]["url"] == URL
    assert [body["drop_pending_updates"] for body in calls] == [False, True]
    assert calls[0]["allowed_updates"] == ["message", "callback_query"]
    # The proxy's settings read the same secret.
    settings = load_settings(
        data_dir=tmp_path, telegram_bot_token=TELEGRAM_TOKEN, telegram_allowed_users="1"
    )
    config = settings.webhook_config()
    assert config is not None and config.telegram is not None
    assert config.telegram.secret == secret


@pytest.mark.usefixtures("no_stack_settings")
def test_a_configured_secret_is_used_and_no_file_written(
    tmp_path: Path, telegram: FakeTelegram
) -> None:
    telegram.clear()
    result = set_webhook(tmp_path, telegram, URL, TELEGRAM_WEBHOOK_SECRET="my-own_secret")
    assert result.exit_code == 0, result.output
    assert telegram.calls[0].body["secret_token"] == "my-own_secret"
    assert not (tmp_path / "secrets").exists()


@pytest.mark.usefixtures("no_stack_settings")
def test_without_a_bot_token_the_setting_is_named(tmp_path: Path, telegram: FakeTelegram) -> None:
    result = set_webhook(tmp_path, telegram, URL, TELEGRAM_BOT_TOKEN=None)
    assert result.exit_code == 2
    assert "TELEGRAM_BOT_TOKEN" in result.output


@pytest.mark.usefixtures("no_stack_settings")
def test_telegram_refusing_is_reported(tmp_path: Path, telegram: FakeTelegram) -> None:
    telegram.clear()
    result = set_webhook(tmp_path, telegram, URL, TELEGRAM_BOT_TOKEN="999:not-the-bot")
    assert result.exit_code == 1
    assert "Telegram setWebhook answered 401" in result.output
    assert "not-the-bot" not in result.output


@pytest.mark.usefixtures("no_stack_settings")
def test_only_https_urls_are_accepted(tmp_path: Path, telegram: FakeTelegram) -> None:
    result = set_webhook(tmp_path, telegram, "http://relay.example/webhook/telegram")
    assert result.exit_code == 2
    assert "https://" in result.output
