"""The stand-in model that explains how to configure a real one."""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer

from openclaw_secure_stack.runtime.no_model import NOT_CONFIGURED, NoModelEndpoint, no_model_app


async def test_every_model_call_gets_a_400_that_names_the_settings() -> None:
    """Chat completions (and anything else) get an OpenAI-format 400 naming MODEL_BASE_URL."""
    async with TestClient(TestServer(no_model_app())) as client:
        for path in ("/v1/chat/completions", "/v1/models"):
            response = await client.post(path, json={"stream": True})
            assert response.status == 400
            error = (await response.json())["error"]
            assert error["type"] == "invalid_request_error"
            assert error["message"] == NOT_CONFIGURED
    assert "MODEL_BASE_URL" in NOT_CONFIGURED and "MODEL_API_KEY" in NOT_CONFIGURED


async def test_endpoint_listens_on_loopback_and_stops() -> None:
    """The endpoint picks a free loopback port and reports its /v1 base URL."""
    endpoint = NoModelEndpoint()
    url = await endpoint.start()
    try:
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
    finally:
        await endpoint.stop()
