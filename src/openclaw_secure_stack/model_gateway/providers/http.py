"""The connection to the model provider: one pooled aiohttp session (the proxy's measured
choice, see DESIGN.md), deadlines, and provider errors mapped to the gateway's OpenAI errors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping

import aiohttp

from openclaw_secure_stack.http_client import pooled_session
from openclaw_secure_stack.model_gateway.errors import GatewayError
from openclaw_secure_stack.model_gateway.sse import Event, EventTooLarge, batches

_ERROR_BODY_BYTES = 64 << 10
_MESSAGE_CHARS = 500
# Provider statuses that mean the request itself is at fault: OpenClaw gets them as 400 with the
# provider's message (e.g. the context is too long), so it does not retry in vain.
_REQUEST_FAULTS = frozenset({400, 404, 413, 422})


class ProviderHTTP:
    def __init__(
        self,
        *,
        connect_timeout: float,
        read_timeout: float,
        stream_read_timeout: float,
        max_event_bytes: int,
    ) -> None:
        self.read_timeout = read_timeout
        self.stream_read_timeout = stream_read_timeout
        self.max_event_bytes = max_event_bytes
        self._connect_timeout = connect_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            # The provider's reply is parsed here, so aiohttp may decompress it.
            self._session = pooled_session(
                connect_timeout=self._connect_timeout,
                read_timeout=max(self.read_timeout, self.stream_read_timeout),
                passthrough=False,
            )
        return self._session

    async def stream(
        self, url: str, headers: Mapping[str, str], body: bytes
    ) -> AsyncIterator[list[Event]]:
        """POST `body` and return its SSE events, batched by network read. GatewayError for an
        unreachable, slow or refusing provider, before any event; for a broken stream, later."""
        try:
            async with asyncio.timeout(self.read_timeout):
                resp = await self.session.post(
                    url, headers=dict(headers), data=body, allow_redirects=False
                )
        except TimeoutError:
            raise GatewayError(
                504, "provider_timeout", "the model provider did not answer in time"
            ) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise GatewayError(
                502, "provider_unavailable", "the model provider cannot be reached"
            ) from exc
        if resp.status != 200:
            async with resp:
                raise await _refusal(resp)
        return self._events(resp)

    async def _events(self, resp: aiohttp.ClientResponse) -> AsyncIterator[list[Event]]:
        async with resp:
            try:
                async for batch in batches(self._chunks(resp), self.max_event_bytes):
                    yield batch
            except EventTooLarge as exc:
                raise GatewayError(502, "provider_invalid", str(exc)) from None

    async def _chunks(self, resp: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
        while True:
            try:
                # What already arrived needs no deadline (the proxy's forwarder does the same).
                chunk = resp.content.read_nowait()
                if not chunk and not resp.content.at_eof():
                    async with asyncio.timeout(self.stream_read_timeout):
                        chunk = await resp.content.readany()
            except TimeoutError:
                raise GatewayError(
                    504, "provider_timeout", "the model provider stopped sending its reply"
                ) from None
            except (aiohttp.ClientError, OSError) as exc:
                raise GatewayError(
                    502, "provider_broken", "the model provider's reply broke off"
                ) from exc
            if not chunk:
                return
            yield chunk

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


async def _refusal(resp: aiohttp.ClientResponse) -> GatewayError:
    try:
        raw = await resp.content.read(_ERROR_BODY_BYTES)
    except (aiohttp.ClientError, OSError, TimeoutError):
        raw = b""
    detail = provider_message(raw)
    if resp.status == 429:
        return GatewayError(429, "rate_limited", f"the model provider is rate limiting: {detail}")
    if resp.status in _REQUEST_FAULTS:
        return GatewayError(400, "provider_rejected", f"the model provider refused: {detail}")
    if resp.status in (401, 403):
        return GatewayError(
            502, "provider_auth", "the model provider refused the gateway's credentials"
        )
    return GatewayError(502, "provider_error", f"the model provider answered {resp.status}")


def provider_message(raw: bytes) -> str:
    """The `error.message` of an OpenAI or Anthropic error body, shortened; else a placeholder."""
    try:
        document = json.loads(raw)
        message = document["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return "(no message)"
    return str(message)[:_MESSAGE_CHARS]
