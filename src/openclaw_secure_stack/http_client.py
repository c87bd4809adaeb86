"""The pooled aiohttp session that the proxy (to OpenClaw) and the model gateway (to the model
provider) each keep per worker."""

from __future__ import annotations

import aiohttp

# Headers aiohttp would add on its own; a pass-through session sends only what it was given.
_ADDED_HEADERS = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")


def pooled_session(
    *, connect_timeout: float, read_timeout: float, passthrough: bool
) -> aiohttp.ClientSession:
    """An unbounded pool without cookies. Per-chunk deadlines are the caller's; `read_timeout`
    bounds a silent socket. `passthrough` keeps bodies and headers byte for byte (no
    decompression, no added headers)."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, enable_cleanup_closed=True),
        timeout=aiohttp.ClientTimeout(
            total=None, sock_connect=connect_timeout, sock_read=read_timeout
        ),
        auto_decompress=not passthrough,
        skip_auto_headers=_ADDED_HEADERS if passthrough else None,
        cookie_jar=aiohttp.DummyCookieJar(),
    )
