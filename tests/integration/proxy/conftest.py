from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from openclaw_secure_stack.proxy.testing import RecordingUpstream, proxy_environment, running_proxy


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("proxy")


@pytest.fixture(scope="module")
def proxy(upstream: RecordingUpstream, data_dir: Path) -> Iterator[str]:
    """The real proxy (`serve`, granian) in front of the recording upstream."""
    env = proxy_environment(upstream.url, data_dir, MAX_BODY_BYTES="65536")
    with running_proxy(env, data_dir) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(autouse=True)
def _fresh_log(upstream: RecordingUpstream) -> None:
    upstream.requests.clear()
    upstream.disconnects.clear()
