"""The provider's API key stays with the stack: OpenClaw calls a loopback relay that adds it.

OpenClaw reads its provider's key from its config file, and whatever OpenClaw can read, its exec
tool can read. So OpenClaw is given this relay's address and a key that is good only here,
random on every start. The relay checks that key (401 otherwise), puts MODEL_API_KEY in its
place, passes the call to MODEL_BASE_URL and streams the reply back unchanged. The model gateway
(a later part of the design) takes this place and also scans what passes.
"""

from __future__ import annotations

import hmac

import aiohttp
from aiohttp import web

from openclaw_secure_stack.runtime.loopback import LoopbackEndpoint, openai_error

MAX_REQUEST_BYTES = 32 * 1024 * 1024
# Headers passed to the provider besides the key; hop-by-hop and OpenClaw's own stay here.
FORWARDED_REQUEST_HEADERS = ("Content-Type", "Accept")
FORWARDED_RESPONSE_HEADERS = ("Content-Type", "Cache-Control")
# A streamed completion may pause between chunks while the model thinks.
READ_TIMEOUT_SECONDS = 300.0


class ModelRelay(LoopbackEndpoint):
    """The relay on an ephemeral loopback port, in the caller's event loop."""

    def __init__(self, upstream: str, api_key: str | None, access_key: str) -> None:
        self._upstream = upstream.rstrip("/")
        self._api_key = api_key
        self._access_key = access_key.encode()
        app = web.Application(client_max_size=MAX_REQUEST_BYTES)
        app.router.add_route("*", "/v1/{tail:.*}", self._relay)
        super().__init__(app)
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> str:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None, sock_read=READ_TIMEOUT_SECONDS)
        )
        return await super().start()

    async def stop(self) -> None:
        await super().stop()
        if self._session is not None:
            await self._session.close()

    def _authorized(self, request: web.Request) -> bool:
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            presented.strip().encode(), self._access_key
        )

    async def _relay(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return openai_error(
                401, "relay_unauthorized", "the model relay's key is missing or wrong"
            )
        if self._session is None:
            return openai_error(503, "relay_not_started", "the model relay is not running")
        headers = {
            name: request.headers[name]
            for name in FORWARDED_REQUEST_HEADERS
            if name in request.headers
        }
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        response: web.StreamResponse | None = None
        try:
            async with self._session.request(
                request.method,
                f"{self._upstream}/{request.match_info['tail']}",
                params=request.rel_url.query,
                data=await request.read(),
                headers=headers,
                allow_redirects=False,
            ) as upstream:
                response = web.StreamResponse(
                    status=upstream.status,
                    headers={
                        name: upstream.headers[name]
                        for name in FORWARDED_RESPONSE_HEADERS
                        if name in upstream.headers
                    },
                )
                await response.prepare(request)
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)
                await response.write_eof()
                return response
        except (aiohttp.ClientError, TimeoutError) as exc:
            if response is not None:
                # Part of the reply is out: cut the connection so OpenClaw sees a broken stream.
                raise
            return openai_error(502, "model_unreachable", f"MODEL_BASE_URL did not answer: {exc}")
