"""A model endpoint for OpenClaw on an ephemeral loopback port, in the caller's event loop.

OpenClaw's provider `baseUrl` points at one of these: the relay that holds the provider's key
(`model_relay.py`) or the endpoint that explains how to configure a model (`no_model.py`).
"""

from __future__ import annotations

from aiohttp import web


def openai_error(status: int, code: str, message: str) -> web.Response:
    """An error in the OpenAI format, which OpenClaw passes on to its client."""
    return web.json_response(
        {"error": {"message": message, "type": "invalid_request_error", "code": code}},
        status=status,
    )


class LoopbackEndpoint:
    def __init__(self, app: web.Application) -> None:
        self._runner = web.AppRunner(app, access_log=None)
        self.base_url = ""

    async def start(self) -> str:
        """Listen on 127.0.0.1 on a free port; returns the `/v1` base URL."""
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}/v1"
        return self.base_url

    async def stop(self) -> None:
        await self._runner.cleanup()
