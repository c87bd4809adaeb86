from __future__ import annotations

import pytest

from openclaw_secure_stack.proxy.testing import (
    TEST_CLIENT_TOKENS,
    TEST_GATEWAY_TOKEN,
    RecordingUpstream,
)
from openclaw_secure_stack.settings import Settings


@pytest.fixture
def settings(upstream: RecordingUpstream) -> Settings:
    upstream.requests.clear()
    return Settings(
        _env_file=None,
        upstream_url=upstream.url,
        openclaw_gateway_token=TEST_GATEWAY_TOKEN,
        client_tokens=",".join(f"{k}:{v}" for k, v in TEST_CLIENT_TOKENS.items()),
        max_body_bytes=4096,
        read_timeout=2,
        connect_timeout=2,
    )
