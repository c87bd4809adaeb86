"""How fast the Telegram webhook answers while the agent is slow: the relay runs in the
background, so the platform's delivery is answered long before the agent's turn ends.

Run: PYTHONPATH=. uv run python bench/webhook_answer.py [--deliveries N] [--agent-seconds S]
(from the checkout: it reuses the test fakes)
The proxy app is built in-process (no granian: this measures the webhook's own stages, SQLite
replay set included) with the relay configured; OpenClaw is a recording upstream whose chat
completions take S seconds each; Telegram is the fake Bot API of tests/fakes/messaging.py. N
deliveries from N different allowed users (so no rate limit applies) are posted one after the
other; it prints the median and 95th percentile time to the webhook's answer, then the time until
every reply was sent.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.fakes.asgi import call
from tests.fakes.messaging import (
    FakeGraph,
    FakeTelegram,
    encoded,
    telegram_headers,
    telegram_update,
)
from tests.integration.webhooks.harness import relay_settings

from openclaw_secure_stack.audit.sink import CapturingSink
from openclaw_secure_stack.proxy.app import build_app
from openclaw_secure_stack.proxy.testing import RecordingUpstream
from openclaw_secure_stack.settings import load_settings
from openclaw_secure_stack.webhooks.routes import Webhooks


async def run(deliveries: int, agent_seconds: float) -> None:
    upstream, telegram, graph = RecordingUpstream(), FakeTelegram(), FakeGraph()

    def slow_agent(body: dict[str, Any]) -> str:
        time.sleep(agent_seconds)  # blocks the upstream's own thread, as one busy agent would
        return "done"

    upstream.chat_reply = slow_agent
    for server in (upstream, telegram, graph):
        server.start()
    with tempfile.TemporaryDirectory() as directory:
        users = ",".join(str(1000 + n) for n in range(deliveries))
        overrides = relay_settings(Path(directory), telegram, graph, telegram_allowed_users=users)
        overrides.update(upstream_url=upstream.url, webhook_queue_size=str(deliveries))
        app = build_app(load_settings(**overrides).proxy_config(), CapturingSink())
        webhooks = app.stages[0]
        assert isinstance(webhooks, Webhooks)
        answers: list[float] = []
        started = time.perf_counter()
        for n in range(deliveries):
            body = encoded(telegram_update(n, f"message {n}", sender=1000 + n))
            before = time.perf_counter()
            answer = await call(
                app, "POST", "/webhook/telegram", headers=telegram_headers(), body=body
            )
            answers.append(time.perf_counter() - before)
            assert answer.status == 200, answer.body
        await webhooks.queue.drained()
        total = time.perf_counter() - started
        await app.close()
    for server in (upstream, telegram, graph):
        server.stop()
    answers.sort()
    p95 = answers[int(len(answers) * 0.95) - 1]
    print(f"{deliveries} deliveries, agent {agent_seconds} s per turn")
    median = statistics.median(answers)
    print(f"webhook answer: median {median * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms")
    print(f"all replies sent after {total:.1f} s ({len(telegram.texts())} sendMessage calls)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=100)
    parser.add_argument("--agent-seconds", type=float, default=0.2)
    args = parser.parse_args()
    asyncio.run(run(args.deliveries, args.agent_seconds))


if __name__ == "__main__":
    main()
