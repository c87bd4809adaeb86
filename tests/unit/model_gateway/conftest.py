from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from tests.fakes.model_providers import FakeAnthropic, FakeOpenAI, FakeProvider, Turn

from openclaw_secure_stack import resources
from openclaw_secure_stack.audit.sink import CapturingSink
from openclaw_secure_stack.detect import Detector, load_detector
from openclaw_secure_stack.model_gateway.app import GatewayApp, build_app
from openclaw_secure_stack.model_gateway.config import GatewayConfig, ProviderConfig

GATEWAY_KEY = "gateway-key-for-tests-0123456789abcdef"
PROVIDER_KEY = "sk-provider-real-key-0123456789"


@pytest.fixture(scope="session")
def detector() -> Detector:
    return load_detector(resources.PROMPT_RULES, resources.INDIRECT_RULES)


@pytest.fixture(scope="module")
def fake_openai() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def fake_anthropic() -> Iterator[FakeAnthropic]:
    server = FakeAnthropic().start()
    yield server
    server.stop()


def config_for(provider: FakeProvider, **limits: Any) -> GatewayConfig:
    kind = "anthropic" if isinstance(provider, FakeAnthropic) else "openai"
    return GatewayConfig(
        gateway_key=GATEWAY_KEY,
        provider=ProviderConfig(kind, provider.base_url, PROVIDER_KEY, "real-model"),
        **limits,
    )


MakeGateway = Callable[..., tuple[GatewayApp, CapturingSink]]


@pytest.fixture
async def make_gateway(detector: Detector) -> AsyncIterator[MakeGateway]:
    """A gateway app (in-process) in front of a fake provider, with a capturing audit sink."""
    apps: list[GatewayApp] = []

    def make(provider: FakeProvider, **options: Any) -> tuple[GatewayApp, CapturingSink]:
        provider.requests.clear()
        provider.step = Turn("ok")
        provider.after_tools = None
        sink = CapturingSink()
        built = ("decider", "provenance", "governance")
        limits = {k: v for k, v in options.items() if k not in built}
        extras = {k: v for k, v in options.items() if k in built}
        app = build_app(config_for(provider, **limits), detector, sink, **extras)
        apps.append(app)
        return app, sink

    yield make
    for app in apps:
        await app.provider.close()
