"""The webhook tests' harness: the ingress proxy app with both relays configured, built
in-process so tests can drive its clock; OpenClaw is the recording upstream (answering chat
completions), Telegram and WhatsApp are the fake API servers of tests/fakes/messaging.py.
The fixtures that build it are in conftest.py."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.fakes.asgi import Answer, call
from tests.fakes.clock import Clock
from tests.fakes.messaging import (
    APP_SECRET,
    GRAPH_TOKEN,
    PHONE_NUMBER_ID,
    TELEGRAM_SECRET,
    TELEGRAM_TOKEN,
    VERIFY_TOKEN,
    FakeGraph,
    FakeTelegram,
    encoded,
    telegram_headers,
    whatsapp_headers,
)

from openclaw_secure_stack.audit.sink import AuditEvent, CapturingSink
from openclaw_secure_stack.proxy.app import ProxyApp, build_app
from openclaw_secure_stack.proxy.testing import (
    TEST_AUDIT_KEY,
    TEST_CLIENT_TOKENS,
    TEST_GATEWAY_TOKEN,
    RecordingUpstream,
)
from openclaw_secure_stack.settings import ProxyConfig
from openclaw_secure_stack.webhooks.routes import Webhooks

ADA, BOB = 1001, 1002  # allowed Telegram users
ADA_WA, BOB_WA = "4915550001", "4915550002"  # allowed WhatsApp numbers
STRANGER, STRANGER_WA = 6666, "4915559999"


def echo(body: dict[str, Any]) -> str:
    return f"echo: {body['messages'][-1]['content']}"


@dataclass
class Relays:
    """The app and what a test inspects: the audit records, the upstream, the fake platforms."""

    app: ProxyApp
    config: ProxyConfig
    sink: CapturingSink
    clock: Clock
    upstream: RecordingUpstream
    telegram: FakeTelegram
    graph: FakeGraph

    @property
    def webhooks(self) -> Webhooks:
        stage = self.app.stages[0]
        assert isinstance(stage, Webhooks)
        return stage

    async def telegram_post(self, update: dict[str, Any], secret: str = TELEGRAM_SECRET) -> Answer:
        return await call(
            self.app,
            "POST",
            "/webhook/telegram",
            headers=telegram_headers(secret),
            body=encoded(update),
        )

    async def whatsapp_post(self, notification: dict[str, Any]) -> Answer:
        body = encoded(notification)
        return await call(
            self.app, "POST", "/webhook/whatsapp", headers=whatsapp_headers(body), body=body
        )

    async def restart(self) -> None:
        """A new app on the same configuration and data, as after a proxy restart."""
        await self.app.close()
        self.app = build_app(self.config, self.sink, clock=self.clock)

    async def settled(self) -> None:
        """Wait until every queued relay job (agent turn and reply) has finished."""
        await self.webhooks.queue.drained()

    def deliveries(self) -> list[AuditEvent]:
        return self.sink.named("webhook.delivery")

    def decisions(self) -> list[str]:
        """Every message decision of every delivery, in order."""
        return [
            str(message["decision"])
            for event in self.deliveries()
            for message in event.details.get("messages", [])  # type: ignore[attr-defined]
        ]

    def agent_texts(self) -> list[str]:
        """The user texts that reached OpenClaw."""
        return [
            json.loads(r.body)["messages"][-1]["content"]
            for r in self.upstream.requests
            if r.path == "/v1/chat/completions"
        ]


def relay_settings(
    tmp_path: Path, telegram: FakeTelegram, graph: FakeGraph, **extra: str
) -> dict[str, Any]:
    return {
        "upstream_url": "",  # set by the fixture
        "openclaw_gateway_token": TEST_GATEWAY_TOKEN,
        "client_tokens": ",".join(f"{n}:{t}" for n, t in TEST_CLIENT_TOKENS.items()),
        "audit_key": TEST_AUDIT_KEY,
        "data_dir": tmp_path,
        "telegram_bot_token": TELEGRAM_TOKEN,
        "telegram_webhook_secret": TELEGRAM_SECRET,
        "telegram_allowed_users": f"{ADA},{BOB}",
        "telegram_api_url": telegram.url,
        "whatsapp_access_token": GRAPH_TOKEN,
        "whatsapp_app_secret": APP_SECRET,
        "whatsapp_verify_token": VERIFY_TOKEN,
        "whatsapp_phone_number_id": PHONE_NUMBER_ID,
        "whatsapp_allowed_numbers": f"{ADA_WA},{BOB_WA}",
        "whatsapp_api_url": graph.api_url,
        **extra,
    }


def reasons(events: Sequence[AuditEvent]) -> list[str]:
    return [str(event.details["reason"]) for event in events]
