from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from openclaw_secure_stack.proxy.testing import RecordingUpstream, proxy_environment, running_proxy


@pytest.fixture(scope="module")
def upstream() -> Iterator[RecordingUpstream]:
    server = RecordingUpstream()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def proxy_port(
    upstream: RecordingUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[int]:
    """The real proxy with short client deadlines (1 s) and a 64 KiB body limit."""
    data_dir: Path = tmp_path_factory.mktemp("proxy")
    env = proxy_environment(upstream.url, data_dir, CLIENT_TIMEOUT="1", MAX_BODY_BYTES="65536")
    with running_proxy(env, data_dir) as port:
        yield port


@pytest.fixture(autouse=True)
def _fresh_log(upstream: RecordingUpstream) -> None:
    upstream.requests.clear()
    upstream.disconnects.clear()
