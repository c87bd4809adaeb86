"""A streaming upstream for the benchmark: chat-completions SSE with a fixed delay between chunks.

Any POST answers `text/event-stream` with CHUNKS events, event i sent at i*DELAY_MS after the
headers (the first one at once), then `data: [DONE]` one delay later. The schedule is absolute, so
the gaps a client sees are the upstream's delay plus whatever the path in between adds. Delay-bound,
so Python is fast enough here; the JSON upstream for throughput is nginx.

    python bench/sse_upstream.py --port 18100 --chunks 20 --delay-ms 25
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from aiohttp import web


def sse_event(index: int) -> bytes:
    """One OpenAI-style streamed chunk as an SSE `data:` event."""
    chunk = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "bench",
        "choices": [{"index": 0, "delta": {"content": f"tok{index} "}, "finish_reason": None}],
    }
    return b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n"


def build_app(chunks: int, delay_s: float) -> web.Application:
    async def stream(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        start = time.perf_counter()
        for index in range(chunks + 1):
            await asyncio.sleep(max(0.0, start + index * delay_s - time.perf_counter()))
            await response.write(sse_event(index) if index < chunks else b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_get("/health", health)
    app.router.add_post("/{tail:.*}", stream)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--chunks", type=int, default=20)
    parser.add_argument("--delay-ms", type=float, default=25.0)
    args = parser.parse_args()
    web.run_app(
        build_app(args.chunks, args.delay_ms / 1000),
        host=args.host,
        port=args.port,
        print=None,
        access_log=None,
    )


if __name__ == "__main__":
    main()
