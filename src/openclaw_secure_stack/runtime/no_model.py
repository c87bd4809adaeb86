"""The model OpenClaw talks to when none is configured: it explains how to configure one.

`up` must work before a provider is set up. OpenClaw is then pointed at this loopback endpoint,
which answers every model call with an OpenAI-format 400 error. OpenClaw passes that message on
to the client (a JSON error, or an SSE `error` event when streaming); a 400, unlike a 401, does
not make OpenClaw put the provider on a cool-down with a message of its own.
"""

from __future__ import annotations

from aiohttp import web

from openclaw_secure_stack.runtime.loopback import LoopbackEndpoint, openai_error

NOT_CONFIGURED = (
    "No model is configured for OpenClaw Secure Stack. Set MODEL_BASE_URL (an OpenAI-compatible "
    "base URL, e.g. https://api.openai.com/v1), MODEL_API_KEY and MODEL_NAME in the environment "
    "or in .env, then restart `openclaw-secure-stack up`."
)


async def _explain(request: web.Request) -> web.Response:
    return openai_error(400, "model_not_configured", NOT_CONFIGURED)


def no_model_app() -> web.Application:
    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", _explain)
    return app


class NoModelEndpoint(LoopbackEndpoint):
    """The explaining endpoint on an ephemeral loopback port, in the caller's event loop."""

    def __init__(self) -> None:
        super().__init__(no_model_app())
