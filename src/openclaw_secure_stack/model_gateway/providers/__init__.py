"""Model providers behind the gateway. Each turns an OpenAI chat request into its own call and
its streamed reply into OpenAI `chat.completion.chunk` objects, so the rest of the gateway reads
one format whatever the provider.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

from openclaw_secure_stack.model_gateway.config import ProviderConfig
from openclaw_secure_stack.model_gateway.providers.anthropic import AnthropicProvider
from openclaw_secure_stack.model_gateway.providers.http import ProviderHTTP
from openclaw_secure_stack.model_gateway.providers.openai import OpenAIProvider

Chunk = dict[str, Any]


class Provider(Protocol):
    async def open(self, request: dict[str, Any]) -> AsyncIterator[list[Chunk]]:
        """Start the model call; GatewayError if the provider cannot be reached or refuses.
        The iterator yields OpenAI chunks, batched as they arrived, and raises GatewayError if
        the stream breaks."""
        ...

    async def close(self) -> None: ...


def provider_for(config: ProviderConfig, http: ProviderHTTP) -> Provider:
    if config.kind == "anthropic":
        return AnthropicProvider(config, http)
    return OpenAIProvider(config, http)
