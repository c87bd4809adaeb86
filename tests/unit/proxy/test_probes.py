"""Probes stage: /health always, /ready only when OpenClaw and the audit log are usable."""

from __future__ import annotations

import json

from openclaw_secure_stack.audit.sink import CapturingSink
from openclaw_secure_stack.proxy.flow import Flow
from openclaw_secure_stack.proxy.probes import Probes
from openclaw_secure_stack.proxy.testing import RecordingUpstream, make_flow
from openclaw_secure_stack.proxy.upstream import Upstream
from openclaw_secure_stack.settings import Settings


class UnusableLog(CapturingSink):
    def check(self) -> None:
        raise OSError("read-only file system")


async def answer(probes: Probes, path: str) -> tuple[int, dict[str, object]]:
    flow: Flow = make_flow(path, method="GET")
    await probes(flow)
    assert flow.response is not None
    content = b"".join([chunk async for chunk in flow.response.body])
    return flow.response.status, json.loads(content)


async def test_health_is_200_even_with_upstream_down(settings: Settings) -> None:
    """Liveness does not depend on OpenClaw."""
    dead = settings.model_copy(update={"upstream_url": "http://127.0.0.1:9"})
    upstream = Upstream(dead.upstream_config())
    assert await answer(Probes(upstream, CapturingSink()), "/health") == (200, {"status": "ok"})
    await upstream.close()


async def test_ready_when_upstream_and_audit_are_usable(settings: Settings) -> None:
    """/ready is 200 when OpenClaw's readiness path answers 2xx and the log checks out."""
    upstream = Upstream(settings.upstream_config())
    assert await answer(Probes(upstream, CapturingSink()), "/ready") == (200, {"status": "ready"})
    await upstream.close()


async def test_not_ready_when_upstream_is_down(settings: Settings) -> None:
    """An unreachable upstream makes /ready 503 not_ready, naming the upstream."""
    upstream = Upstream(
        settings.model_copy(update={"upstream_url": "http://127.0.0.1:9"}).upstream_config()
    )
    status, payload = await answer(Probes(upstream, CapturingSink()), "/ready")
    assert status == 503
    assert payload["error"]["code"] == "not_ready"  # type: ignore[index]
    assert "upstream unreachable" in payload["error"]["message"]  # type: ignore[index]
    await upstream.close()


async def test_not_ready_when_upstream_says_so(
    settings: Settings, upstream: RecordingUpstream
) -> None:
    """OpenClaw answering its readiness path with 503 makes /ready 503."""
    upstream.ready = False
    try:
        client = Upstream(settings.upstream_config())
        status, payload = await answer(Probes(client, CapturingSink()), "/ready")
        assert status == 503 and "answered 503" in payload["error"]["message"]  # type: ignore[index]
        await client.close()
    finally:
        upstream.ready = True


async def test_not_ready_when_audit_log_is_unusable(settings: Settings) -> None:
    """An audit log whose check() raises makes /ready 503, naming the audit log."""
    upstream = Upstream(settings.upstream_config())
    status, payload = await answer(Probes(upstream, UnusableLog()), "/ready")
    assert status == 503 and "audit log unusable" in payload["error"]["message"]  # type: ignore[index]
    await upstream.close()


async def test_other_paths_pass_through(settings: Settings) -> None:
    """Any other path is left for the next stages."""
    flow = make_flow("/v1/models", method="GET")
    await Probes(Upstream(settings.upstream_config()), CapturingSink())(flow)
    assert flow.response is None


async def test_websocket_to_a_probe_path_is_refused(settings: Settings) -> None:
    """An upgrade to /health is not answered as a probe and never forwarded: it is a 400."""
    flow = make_flow("/health", method="GET", websocket=True)
    await Probes(Upstream(settings.upstream_config()), CapturingSink())(flow)
    assert flow.response is not None and flow.response.status == 400
