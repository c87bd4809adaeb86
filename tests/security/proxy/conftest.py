from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from openclaw_secure_stack.proxy.testing import RecordingUpstream, proxy_environment, running_proxy


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The module's proxy working directory, where its audit log is."""
    return tmp_path_factory.mktemp("proxy")


@pytest.fixture(scope="module")
def proxy_settings() -> dict[str, str]:
    """The proxy's environment over the defaults: short client deadlines (1 s) and a 64 KiB body
    limit. A module that needs the defaults overrides this fixture."""
    return {"CLIENT_TIMEOUT": "1", "MAX_BODY_BYTES": "65536"}


@pytest.fixture(scope="module")
def proxy_port(
    upstream: RecordingUpstream, data_dir: Path, proxy_settings: dict[str, str]
) -> Iterator[int]:
    """The real proxy (`serve`, granian) in front of the recording upstream."""
    env = proxy_environment(upstream.url, data_dir, **proxy_settings)
    with running_proxy(env, data_dir) as port:
        yield port


@pytest.fixture(autouse=True)
def _fresh_log(upstream: RecordingUpstream) -> None:
    upstream.requests.clear()
    upstream.disconnects.clear()
