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

MAX_REQUEST_BYTES = 32 * 1024 * 1024
# Headers passed to the provider besides the key; hop-by-hop and OpenClaw's own stay here.
FORWARDED_REQUEST_HEADERS = ("Content-Type", "Accept")
FORWARDED_RESPONSE_HEADERS = ("Content-Type", "Cache-Control")
# A streamed completion may pause between chunks while the model thinks.
READ_TIMEOUT_SECONDS = 300.0


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response(
        {"error": {"message": message, "type": "invalid_request_error", "code": code}},
        status=status,
    )


class ModelRelay:
    """The relay on an ephemeral loopback port, in the caller's event loop."""

    def __init__(self, upstream: str, api_key: str | None, access_key: str) -> None:
        self._upstream = upstream.rstrip("/")
        self._api_key = api_key
        self._access_key = access_key.encode()
        app = web.Application(client_max_size=MAX_REQUEST_BYTES)
        app.router.add_route("*", "/v1/{tail:.*}", self._relay)
        self._runner = web.AppRunner(app, access_log=None)
        self._session: aiohttp.ClientSession | None = None
        self.base_url = ""

    async def start(self) -> str:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None, sock_read=READ_TIMEOUT_SECONDS)
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}/v1"
        return self.base_url

    async def stop(self) -> None:
        await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    def _authorized(self, request: web.Request) -> bool:
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            presented.strip().encode(), self._access_key
        )

    async def _relay(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return _error(401, "relay_unauthorized", "the model relay's key is missing or wrong")
        if self._session is None:
            return _error(503, "relay_not_started", "the model relay is not running")
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
            return _error(502, "model_unreachable", f"MODEL_BASE_URL did not answer: {exc}")
