"""Replies from the real OpenClaw: it compresses when a client asks (its Control UI serves
precompressed assets), so the proxy asks for identity and the client gets bytes it can scan."""

from __future__ import annotations

import gzip
import json
import urllib.request
from pathlib import Path

from harness import INSTALL_ROOT, StackHandle


def fetch(url: str, token: str, encoding: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(
        url, headers={"Authorization": f"Bearer {token}", "Accept-Encoding": encoding}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        headers = {name.lower(): value for name, value in response.headers.items()}
        return response.status, headers, response.read()


def small_precompressed_asset() -> Path:
    assets = sorted(INSTALL_ROOT.glob("openclaw-*/node_modules/openclaw/dist/control-ui/assets"))
    candidates = [
        path
        for path in assets[-1].glob("*.js")
        if path.with_name(path.name + ".gz").exists() and 2_000 < path.stat().st_size < 50_000
    ]
    return sorted(candidates)[0]


def test_control_ui_asset_arrives_uncompressed_whatever_the_client_accepts(
    stack: StackHandle,
) -> None:
    """OpenClaw answers gzip to a client that accepts it; through the proxy the same asset
    arrives as identity bytes (the proxy asked for identity), and the request is audited."""
    asset = small_precompressed_asset()
    path = f"/assets/{asset.name}"
    direct = f"http://127.0.0.1:{stack.openclaw_port}{path}"
    status, headers, body = fetch(direct, stack.gateway_token, "gzip")
    assert (status, headers.get("content-encoding")) == (200, "gzip")
    assert gzip.decompress(body) == asset.read_bytes()

    for accepted in ("br, gzip", "gzip;q=1.0, identity;q=0", "*"):
        status, headers, body = fetch(stack.proxy_url + path, stack.client_token, accepted)
        assert (status, headers.get("content-encoding")) == (200, None), accepted
        assert body == asset.read_bytes()

    records = [json.loads(line) for line in stack.audit_log_path.read_text().splitlines()]
    served = [r for r in records if r["details"].get("path") == path]
    assert [(r["outcome"], r["details"]["status"]) for r in served] == [("allow", 200)] * 3


def test_control_ui_page_arrives_uncompressed(stack: StackHandle) -> None:
    """The Control UI's HTML, which OpenClaw compresses on the fly for a client that accepts
    it, arrives through the proxy uncompressed."""
    status, headers, body = fetch(stack.proxy_url + "/", stack.client_token, "br, gzip")
    assert (status, headers.get("content-encoding")) == (200, None)
    assert b"<html" in body.lower()
