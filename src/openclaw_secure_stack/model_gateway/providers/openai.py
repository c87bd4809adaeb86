"""Any OpenAI-compatible provider (OpenAI, Ollama, vLLM, ...): the request passes through with
the configured model and the real key; the reply is always streamed with usage, so every call is
audited with its token counts (a client that did not ask for usage does not get it)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from openclaw_secure_stack.model_gateway import codec
from openclaw_secure_stack.model_gateway.config import ProviderConfig
from openclaw_secure_stack.model_gateway.errors import GatewayError
from openclaw_secure_stack.model_gateway.providers.http import ProviderHTTP, provider_message
from openclaw_secure_stack.model_gateway.sse import Event


class OpenAIProvider:
    def __init__(self, config: ProviderConfig, http: ProviderHTTP) -> None:
        self._http = http
        self._model = config.model
        self._url = config.base_url.rstrip("/") + "/chat/completions"
        self._headers = {
            "authorization": f"Bearer {config.api_key}",
            "content-type": "application/json",
            "accept": "text/event-stream",
        }

    async def open(self, request: dict[str, Any]) -> AsyncIterator[list[dict[str, Any]]]:
        body = {
            **request,
            "model": self._model,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        # Always re-serialised, never the client's bytes: the provider must parse exactly what
        # was scanned (a duplicate key read differently by its parser would bypass the scan).
        encoded = codec.dumps(body)
        return _chunks(await self._http.stream(self._url, self._headers, encoded))

    async def close(self) -> None:
        await self._http.close()


async def _chunks(batches: AsyncIterator[list[Event]]) -> AsyncIterator[list[dict[str, Any]]]:
    async for events in batches:
        chunks: list[dict[str, Any]] = []
        for event in events:
            if event.data == "[DONE]":
                if chunks:
                    yield chunks
                return
            chunks.append(_chunk(event))
        yield chunks
    raise GatewayError(502, "provider_broken", "the model provider's reply ended without [DONE]")


def _chunk(event: Event) -> dict[str, Any]:
    try:
        chunk = codec.loads(event.data)
    except codec.InvalidJSON:
        raise GatewayError(502, "provider_invalid", "the model provider sent bad JSON") from None
    if not isinstance(chunk, dict):
        raise GatewayError(502, "provider_invalid", "the model provider sent a non-object")
    if "error" in chunk:
        detail = provider_message(event.data.encode())
        raise GatewayError(502, "provider_error", f"the model provider failed: {detail}")
    return chunk
