"""The model OpenClaw talks to when none is configured: it explains how to configure one.

`up` must work before a provider is set up. OpenClaw is then pointed at this endpoint, on an
ephemeral loopback port in `up`'s own event loop, which answers every model call with an
OpenAI-format 400 error. OpenClaw passes that message on to the client (a JSON error, or an SSE
`error` event when streaming); a 400, unlike a 401, does not make OpenClaw put the provider on a
cool-down with a message of its own. With a model configured, the model gateway takes its place.
"""

from __future__ import annotations

from aiohttp import web

NOT_CONFIGURED = (
    "No model is configured for OpenClaw Secure Stack. Set MODEL_BASE_URL (an OpenAI-compatible "
    "base URL, e.g. https://api.openai.com/v1, or Anthropic's with MODEL_PROVIDER=anthropic), "
    "MODEL_API_KEY and MODEL_NAME in the environment or in .env, then restart "
    "`openclaw-secure-stack up`."
)


async def _explain(request: web.Request) -> web.Response:
    return web.json_response(
        {
            "error": {
                "message": NOT_CONFIGURED,
                "type": "invalid_request_error",
                "code": "model_not_configured",
            }
        },
        status=400,
    )


def no_model_app() -> web.Application:
    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", _explain)
    return app


class NoModelEndpoint:
    """The explaining endpoint on an ephemeral loopback port, in the caller's event loop."""

    def __init__(self) -> None:
        self._runner = web.AppRunner(no_model_app(), access_log=None)
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
