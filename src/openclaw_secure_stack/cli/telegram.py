"""`telegram set-webhook URL`: point the bot at the proxy's webhook, with a secret it generates."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from openclaw_secure_stack.runtime.credentials import load_or_create_secret, new_token
from openclaw_secure_stack.settings import SettingsError, load_settings
from openclaw_secure_stack.webhooks.api import ApiError, PlatformHttp, RetryPolicy, TelegramApi
from openclaw_secure_stack.webhooks.platforms import TELEGRAM_PATH

EXIT_FAILED = 1
# What the relay reads: messages, and button presses for approvals.
ALLOWED_UPDATES = ["message", "callback_query"]

app = typer.Typer(help="Set up the Telegram relay.", no_args_is_help=True)


@app.command("set-webhook")
def set_webhook(
    url: Annotated[str, typer.Argument(help=f"Public HTTPS URL of the proxy's {TELEGRAM_PATH}.")],
    drop_pending: Annotated[
        bool, typer.Option(help="Discard updates Telegram is still holding for the bot.")
    ] = False,
) -> None:
    """Call Telegram's `setWebhook` for TELEGRAM_BOT_TOKEN with URL and a secret token.

    The secret is TELEGRAM_WEBHOOK_SECRET when set; otherwise one is generated on first use into
    DATA_DIR/secrets/telegram-webhook-secret (mode 0600), where the proxy reads it. Telegram then
    sends it with every delivery and the proxy refuses deliveries without it. Restart the proxy
    (`up`) after the first run. To rotate the secret, delete the file and run this again.
    """
    settings = load_settings()
    if settings.telegram_bot_token is None:
        raise SettingsError(
            "TELEGRAM_BOT_TOKEN: not set; put the token @BotFather gave you in .env"
        )
    if not url.startswith("https://"):
        raise typer.BadParameter("Telegram only delivers to https:// URLs", param_hint="URL")
    secret = (
        settings.telegram_webhook_secret.get_secret_value()
        if settings.telegram_webhook_secret is not None
        else load_or_create_secret(settings.telegram_secret_file(), new_token())
    )
    payload = {
        "url": url,
        "secret_token": secret,
        "allowed_updates": ALLOWED_UPDATES,
        "drop_pending_updates": drop_pending,
    }
    try:
        answer = asyncio.run(
            _call(
                settings.telegram_api_url, settings.telegram_bot_token.get_secret_value(), payload
            )
        )
    except ApiError as exc:
        Console(stderr=True, highlight=False, soft_wrap=True).print(
            Text(f"error: {exc}", style="red")
        )
        raise typer.Exit(EXIT_FAILED) from None
    console = Console(highlight=False, soft_wrap=True)
    console.print(f"Telegram: {answer.get('description', 'webhook set')} -> {url}")
    if not url.endswith(TELEGRAM_PATH):
        console.print(f"warning: the proxy's webhook path is {TELEGRAM_PATH}")
    if settings.telegram_webhook_secret is None:
        console.print(f"secret: {settings.telegram_secret_file()} (restart the proxy to use it)")


async def _call(api_url: str, bot_token: str, payload: dict[str, object]) -> dict[str, object]:
    http = PlatformHttp(RetryPolicy(attempts=3, max_wait=10.0))
    try:
        return await TelegramApi(http, api_url, bot_token).call("setWebhook", payload)
    finally:
        await http.close()
