"""The webhook routes, mounted on the ingress proxy when a relay is configured.

Each delivery passes these stages, in this order (`delivery_stages`), until one answers:

    Method → ReadCapped → Signature → Parse → Allowlist → Replay → RateLimit → Enqueue

and each message it holds is then relayed in the background (`relay.Relay`) through the proxy's
own pipeline: sanitize → governance → session → intent → forward → response scan → audit,
and answered through the platform's API. `Webhooks` is the proxy stage that sends the exact
paths `/webhook/telegram` and `/webhook/whatsapp` here (before client auth: the platform's
signature is their authentication); every delivery ends in one `webhook.delivery` record.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import ClassVar

from openclaw_secure_stack.audit.sink import AuditEvent, AuditSink
from openclaw_secure_stack.proxy.flow import Flow, Response
from openclaw_secure_stack.settings import WebhookConfig
from openclaw_secure_stack.webhooks.api import PlatformHttp, RetryPolicy, Sleep
from openclaw_secure_stack.webhooks.approvals import PhoneApprovals
from openclaw_secure_stack.webhooks.delivery import (
    Allowlist,
    Delivery,
    DeliveryStage,
    Enqueue,
    Method,
    Parse,
    RateLimit,
    ReadCapped,
    Replay,
    Signature,
)
from openclaw_secure_stack.webhooks.platforms import Platform, Telegram, WhatsApp
from openclaw_secure_stack.webhooks.ratelimit import RateLimits, TokenBuckets
from openclaw_secure_stack.webhooks.relay import Agent, Relay, RelayQueue, actor
from openclaw_secure_stack.webhooks.replay import ReplayStore, SqliteReplayStore

Clock = Callable[[], float]


class Webhooks:
    """Proxy stage: answers deliveries to the configured webhook paths (exact match on the
    validated path), and owns what the relays keep open (queue, API session, replay store)."""

    name: ClassVar[str] = "webhooks"
    sees_answered: ClassVar[bool] = False

    def __init__(
        self,
        platforms: Sequence[Platform],
        approvals: PhoneApprovals,
        stages: Sequence[DeliveryStage],
        *,
        audit: AuditSink,
        queue: RelayQueue,
        http: PlatformHttp,
        store: ReplayStore,
    ) -> None:
        self._platforms = {platform.path: platform for platform in platforms}
        self.approvals = approvals  # what governance calls to ask a person on the phone
        self.stages = stages
        self._audit = audit
        self.queue = queue
        self._http = http
        self._store = store

    async def __call__(self, flow: Flow) -> None:
        platform = self._platforms.get(flow.request.path)
        if platform is None:
            return
        flow.actor = actor(platform.name)
        delivery = Delivery(flow, platform)
        for stage in self.stages:
            await stage(delivery)
            if delivery.answer is not None:
                break
        else:
            delivery.finish("queued" if any_queued(delivery) else "nothing_to_relay")
        answer = delivery.answer or Response.json(200, {"ok": True})
        flow.notes["webhook"] = delivery.reason
        details: dict[str, object] = {
            "platform": platform.name,
            "status": answer.status,
            "reason": delivery.reason,
            "body_bytes": len(delivery.raw),
        }
        if delivery.decisions:
            details["messages"] = delivery.decisions
        outcome = "allow" if answer.status == 200 else "deny"
        self._audit.write(
            AuditEvent("webhook.delivery", outcome, flow.actor, flow.request_id, details)
        )
        flow.response = answer
        if answer.status != 200:
            flow.notes["denied"] = delivery.reason

    async def aclose(self) -> None:
        await self.queue.close()
        await self._http.close()
        await self._store.close()


def any_queued(delivery: Delivery) -> bool:
    return any(decision["decision"] == "queued" for decision in delivery.decisions)


def delivery_stages(
    config: WebhookConfig, store: ReplayStore, queue: RelayQueue, clock: Clock
) -> list[DeliveryStage]:
    """The order a delivery is checked in: cheap and unauthenticated first, the signature
    before anything reads the content, the allowlist before anything is remembered or counted
    for a sender."""
    per_sender = TokenBuckets(config.sender_per_minute, config.burst, clock)
    per_chat = TokenBuckets(config.chat_per_minute, config.burst, clock)
    return [
        Method(),
        ReadCapped(),
        Signature(),
        Parse(),
        Allowlist(config.tell_unknown, store, clock, queue),
        Replay(store, clock),
        RateLimit(RateLimits(per_sender, per_chat)),
        Enqueue(queue),
    ]


def mount(
    config: WebhookConfig,
    audit: AuditSink,
    agent: Agent,
    *,
    clock: Clock = time.time,
    sleep: Sleep = asyncio.sleep,
    store: ReplayStore | None = None,
) -> Webhooks:
    """The webhook stage for the configured relays; `agent` runs a relayed message through the
    proxy's pipeline (every stage after client auth). Phone approvals stay off until the
    governance engine connects its resolver (`Webhooks.approvals.connect`)."""
    http = PlatformHttp(RetryPolicy(config.reply_attempts, config.reply_max_wait), sleep)
    platforms: list[Platform] = []
    if config.telegram is not None:
        platforms.append(Telegram(config.telegram, http))
    if config.whatsapp is not None:
        platforms.append(WhatsApp(config.whatsapp, http))
    replay = store or SqliteReplayStore(config.replay_path, config.replay_ttl)
    approvers = {
        name: chosen.approvers
        for name, chosen in (("telegram", config.telegram), ("whatsapp", config.whatsapp))
        if chosen is not None
    }
    approvals = PhoneApprovals(
        {platform.name: platform for platform in platforms}, approvers, audit, clock
    )
    relay = Relay(agent, approvals, audit)
    queue = RelayQueue(relay, size=config.queue_size, workers=config.workers)
    return Webhooks(
        platforms,
        approvals,
        delivery_stages(config, replay, queue, clock),
        audit=audit,
        queue=queue,
        http=http,
        store=replay,
    )
