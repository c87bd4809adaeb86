"""The gateway's configuration refuses what it cannot run with safely."""

from __future__ import annotations

from typing import Any

import pytest

from openclaw_secure_stack.model_gateway.config import (
    GatewayConfig,
    GatewayConfigError,
    ProviderConfig,
)

KEY = "k" * 32
PROVIDER = ProviderConfig("openai", "https://api.example/v1", "sk-secret-provider-key", "m")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"host": "0.0.0.0"}, "not loopback"),
        ({"host": "192.168.1.5"}, "not loopback"),
        ({"gateway_key": "short"}, "at least 32"),
        ({"port": 70000}, "0-65535"),
        ({"max_body_bytes": 0}, "max_body_bytes"),
        ({"read_timeout": 0}, "read_timeout"),
    ],
)
def test_unsafe_or_unusable_settings_are_refused(options: dict[str, Any], message: str) -> None:
    """Each bad value raises GatewayConfigError naming it."""
    settings: dict[str, Any] = {"gateway_key": KEY, "provider": PROVIDER} | options
    with pytest.raises(GatewayConfigError, match=message):
        GatewayConfig(**settings)


def test_remote_listening_needs_an_explicit_opt_in() -> None:
    """A non-loopback address is accepted only with allow_remote."""
    assert GatewayConfig(KEY, PROVIDER, host="0.0.0.0", allow_remote=True).host == "0.0.0.0"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("bedrock", "https://x", "k", "m"), "not one of"),
        (("openai", "ftp://x", "k", "m"), "http"),
        (("openai", "https://x", "", "m"), "API key"),
        (("openai", "https://x", "k", ""), "model"),
    ],
)
def test_provider_values_are_checked(args: tuple[str, ...], message: str) -> None:
    """Provider kind, URL, key and model are required and checked."""
    with pytest.raises(GatewayConfigError, match=message):
        ProviderConfig(*args)  # type: ignore[arg-type]


def test_keys_never_appear_in_reprs() -> None:
    """Neither the provider key nor the gateway key shows in a repr (logs, tracebacks)."""
    config = GatewayConfig(KEY, PROVIDER)
    assert "sk-secret-provider-key" not in repr(config)
    assert KEY not in repr(config)
