"""Where a model gateway call's CPU goes.

The gateway app is driven in-process (no granian) against nginx serving bench/model_gateway.py's
canned reply, with stages switched off one at a time, beside bench/bare_forwarder.py (the floor)
driven the same way; before that, the parts one by one: scanning a new tool result, the JSON
codec on the captured request beside the standard library, the reply's parsing and encoding.

    uv run python -m bench.model_gateway_stages            # about a minute
    uv run python -m bench.model_gateway_stages --calls 300

CPU per call is `time.process_time` over all calls (this process only: nginx is not counted).
A variant with a stage off is not a gateway anyone runs; the difference to `full` is what that
stage costs inside a call, caches and all.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import importlib
import itertools
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvloop
from bench.ingress import Processes, find_tools, free_port
from bench.model_gateway import KEY, MODEL, PROVIDER_KEY, request_body, sse_reply, start_provider

from openclaw_secure_stack import resources
from openclaw_secure_stack.audit.log import AuditLog
from openclaw_secure_stack.audit.sink import AuditEvent
from openclaw_secure_stack.detect import load_detector
from openclaw_secure_stack.model_gateway import codec
from openclaw_secure_stack.model_gateway.app import GatewayApp, build_app
from openclaw_secure_stack.model_gateway.config import GatewayConfig, ProviderConfig
from openclaw_secure_stack.model_gateway.providers.openai import _chunk as chunk
from openclaw_secure_stack.model_gateway.scanner import ToolResultReport
from openclaw_secure_stack.model_gateway.sse import SSEParser, data_line

VARIANTS = ("full", "no audit", "no scan", "no audit, no scan")
FLOOR = "bare forwarder (floor)"


class _NoAudit:
    def write(self, event: AuditEvent) -> None:
        pass


async def _no_scan(messages: list[object]) -> list[ToolResultReport]:
    return []


def gateway(provider_port: int, directory: Path, variant: str) -> GatewayApp:
    provider = ProviderConfig("openai", f"http://127.0.0.1:{provider_port}/v1", PROVIDER_KEY, MODEL)
    sink = (
        _NoAudit()
        if "no audit" in variant
        else AuditLog(directory / f"{variant}.jsonl", b"k" * 32, 64 << 20)
    )
    detector = load_detector(resources.PROMPT_RULES, resources.INDIRECT_RULES)
    app = build_app(GatewayConfig(gateway_key=KEY, provider=provider), detector, sink)
    if "no scan" in variant:
        app.scanner.clean = _no_scan  # type: ignore[method-assign]
    return app


async def one_call(app: Any, raw: bytes) -> None:
    """One streamed chat call as granian would hand it over; fails unless the reply is whole."""
    headers = [
        (b"authorization", f"Bearer {KEY}".encode()),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(raw)).encode()),
    ]
    scope = {"type": "http", "method": "POST", "path": "/v1/chat/completions", "headers": headers}
    pieces = [raw[start : start + 65536] for start in range(0, len(raw), 65536)]
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": piece, "more_body": number < len(pieces) - 1}
        for number, piece in enumerate(pieces)
    ]
    hung_up = asyncio.Event()
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await hung_up.wait()  # the client stays until the reply ends
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    body = b"".join(message.get("body", b"") for message in sent[1:])
    if sent[0]["status"] != 200 or not body.endswith(b"data: [DONE]\n\n") or b'"error"' in body:
        raise SystemExit(f"the gateway did not answer the call: {body[-300:]!r}")


async def cpu_per_call(app: Any, raw: bytes, calls: int) -> float:
    for _ in range(20):  # connection, verdict cache
        await one_call(app, raw)
    started = time.process_time()
    for _ in range(calls):
        await one_call(app, raw)
    return (time.process_time() - started) / calls * 1e6


def per_op(function: Callable[[], object], repeat: int = 500) -> float:
    function()
    started = time.process_time()
    for _ in range(repeat):
        function()
    return (time.process_time() - started) / repeat * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000, help="calls per variant and round")
    parser.add_argument("--rounds", type=int, default=2, help="variants interleaved, N rounds")
    args = parser.parse_args()
    raw = request_body()
    document = json.loads(raw)
    reply = sse_reply()
    events = SSEParser(1 << 20).feed(reply)[:-1]  # without [DONE]
    chunks = [chunk(event) for event in events]
    print(f"load average {os.getloadavg()[0]:.1f}; request {len(raw):,} bytes")
    detector = load_detector(resources.PROMPT_RULES, resources.INDIRECT_RULES)
    results = [m["content"] for m in document["messages"] if m["role"] == "tool"]
    largest = max(results, key=len)
    fresh = itertools.count()
    for name, function in (
        # A cache miss: what one new tool result costs to scan (a new text every time).
        (
            f"scan a new {len(largest):,}-char result",
            lambda: detector.detect(f"{largest}{next(fresh)}", "indirect", "tool_result"),
        ),
        ("json.loads", lambda: json.loads(raw)),
        ("codec.loads (orjson)", lambda: codec.loads(raw)),
        ("json.dumps", lambda: json.dumps(document).encode()),
        ("codec.dumps (orjson)", lambda: codec.dumps(document)),
        ("sha256 of the request", lambda: hashlib.sha256(raw).hexdigest()),
        (f"reply: SSE of {len(events)} events", lambda: SSEParser(1 << 20).feed(reply)),
        ("reply: parse the chunks", lambda: [chunk(event) for event in events]),
        ("reply: re-encode them", lambda: b"".join(data_line(c) for c in chunks)),
    ):
        print(f"{name:30} {per_op(function):8.1f} us")
    with tempfile.TemporaryDirectory(prefix="oss-bench-stages-") as tmp:
        processes = Processes(Path(tmp))
        try:
            port = free_port()
            start_provider(processes, find_tools(("nginx",))["nginx"], port)
            processes.wait_ready()
            results: dict[str, list[float]] = {variant: [] for variant in VARIANTS}

            # The floor of bench/ingress.py, driven the same way: it reads these at import.
            os.environ.update(BENCH_UPSTREAM=f"http://127.0.0.1:{port}", BENCH_TOKEN=KEY)
            floor = importlib.import_module("bench.bare_forwarder")
            results[FLOOR] = []

            async def measure() -> None:
                apps = {variant: gateway(port, Path(tmp), variant) for variant in VARIANTS}
                for _ in range(args.rounds):
                    for variant, app in apps.items():
                        results[variant].append(await cpu_per_call(app, raw, args.calls))
                    results[FLOOR].append(await cpu_per_call(floor.app, raw, args.calls))
                for app in apps.values():
                    await app.provider.close()
                if floor._session is not None:
                    await floor._session.close()

            uvloop.run(measure())  # what granian runs the gateway on
        finally:
            processes.stop_all()
    full = min(results["full"])
    for variant, figures in results.items():
        best = min(figures)
        print(
            f"{variant:30} {best:8.0f} us CPU per call (best of {args.rounds}; "
            f"{best - full:+.0f} against full)"
        )
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
