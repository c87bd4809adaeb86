"""The gateway's configuration: one typed value, checked once when it is built."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

ProviderKind = Literal["openai", "anthropic"]
PROVIDER_KINDS: tuple[ProviderKind, ...] = ("openai", "anthropic")
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


class GatewayConfigError(Exception):
    """A configuration the gateway cannot run with; the message names the value and the fix."""


@dataclass(frozen=True)
class ProviderConfig:
    """The real model provider. `api_key` never leaves the gateway's process."""

    kind: ProviderKind
    base_url: str
    api_key: str
    model: str

    def __post_init__(self) -> None:
        if self.kind not in PROVIDER_KINDS:
            raise GatewayConfigError(f"provider: {self.kind!r} is not one of {PROVIDER_KINDS}")
        if not self.base_url.startswith(("http://", "https://")):
            raise GatewayConfigError("provider base URL: must start with http:// or https://")
        if not self.api_key:
            raise GatewayConfigError("provider API key: not set")
        if not self.model:
            raise GatewayConfigError("provider model: not set")

    @property
    def summary(self) -> str:
        """Kind, host and model, for people: never the key, nor a user or password in the URL."""
        parts = urlsplit(self.base_url)
        host = parts.hostname or "?"
        return f"{self.model} ({self.kind}) at {host}{f':{parts.port}' if parts.port else ''}"

    def __repr__(self) -> str:
        return (
            f"ProviderConfig(kind={self.kind!r}, base_url={self.base_url!r}, model={self.model!r})"
        )


@dataclass(frozen=True)
class GatewayConfig:
    """Where the gateway listens, the key OpenClaw must present, the provider, limits, timeouts.

    `allow_remote` must be set to listen beyond loopback: the gateway spends the provider key for
    anyone holding the gateway key.
    """

    gateway_key: str
    provider: ProviderConfig
    host: str = "127.0.0.1"
    # Opens the internal API (`internal.py`) to the stack's own services; None: closed.
    internal_token: str | None = None
    # Opens only its governance routes to the prompt-guard plugin; None: closed to it.
    plugin_token: str | None = None
    port: int = 8081
    allow_remote: bool = False
    max_body_bytes: int = 10 << 20
    max_event_bytes: int = 4 << 20
    verdict_cache_entries: int = 4096
    provenance_entries: int = 10_000
    scan_thread_threshold: int = 32 << 10
    connect_timeout: float = 10.0
    read_timeout: float = 120.0
    stream_read_timeout: float = 300.0
    client_timeout: float = 15.0

    def __post_init__(self) -> None:
        if len(self.gateway_key) < 32:
            raise GatewayConfigError("gateway key: must be at least 32 characters")
        if self.internal_token is not None and len(self.internal_token) < 32:
            raise GatewayConfigError("internal token: must be at least 32 characters")
        if self.internal_token is not None and self.internal_token == self.gateway_key:
            raise GatewayConfigError("internal token: must differ from the gateway key")
        if self.plugin_token is not None and (
            len(self.plugin_token) < 32
            or self.plugin_token in (self.gateway_key, self.internal_token)
        ):
            raise GatewayConfigError(
                "plugin token: must be at least 32 characters and differ from the other keys"
            )
        if self.host not in LOOPBACK and not self.allow_remote:
            raise GatewayConfigError(
                f"listen host {self.host!r} is not loopback; the gateway listens on loopback only"
            )
        if not 0 <= self.port <= 65535:
            raise GatewayConfigError(f"listen port {self.port}: must be 0-65535")
        for name in ("max_body_bytes", "max_event_bytes", "verdict_cache_entries"):
            if getattr(self, name) < 1:
                raise GatewayConfigError(f"{name}: must be at least 1")
        for name in ("connect_timeout", "read_timeout", "stream_read_timeout", "client_timeout"):
            if not getattr(self, name) > 0:
                raise GatewayConfigError(f"{name}: must be a positive number of seconds")

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL clients (OpenClaw) call."""
        return f"http://{http_host(self.host)}:{self.port}/v1"

    def __repr__(self) -> str:
        return f"GatewayConfig(host={self.host!r}, port={self.port}, provider={self.provider!r})"


def http_host(host: str) -> str:
    """`host` as written in a URL (an IPv6 address in brackets)."""
    return f"[{host}]" if ":" in host else host
