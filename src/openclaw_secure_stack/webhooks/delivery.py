"""One webhook delivery (`Delivery`) and the small stages it passes, in the order `routes.py`
lists them. A stage ends the delivery by calling `finish` (the platform's answer and the reason,
which the audit record carries); a message a stage drops is removed from `messages` with its
reason in `decisions`. Answers follow what the platforms do with them: anything but 2xx is
delivered again (Telegram, and WhatsApp for 7 days), so only a forged or oversized delivery, or
a full queue ("try later"), gets one; everything that must not come back is a 200.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import ClassVar, Protocol

from openclaw_secure_stack.proxy.flow import Flow, Response
from openclaw_secure_stack.proxy.sanitize import strict_json
from openclaw_secure_stack.webhooks.messages import Inbound, Malformed
from openclaw_secure_stack.webhooks.platforms import Platform
from openclaw_secure_stack.webhooks.ratelimit import RateLimits
from openclaw_secure_stack.webhooks.relay import UNKNOWN_SENDER_NOTE, UNSUPPORTED_NOTE, Job
from openclaw_secure_stack.webhooks.replay import ReplayStore

RETRY_AFTER_SECONDS = 30
# Larger deliveries (WhatsApp's may reach 3 MB) are parsed in a worker thread, so the event loop
# keeps serving; the proxy's sanitizer does the same above its 32 KiB default.
THREAD_THRESHOLD = 64 * 1024


@dataclass
class Delivery:
    flow: Flow
    platform: Platform
    raw: bytes = b""
    document: object = None
    messages: list[Inbound] = field(default_factory=list)
    decisions: list[dict[str, object]] = field(default_factory=list)
    # Per message id: what to take back if the message is not queued after all (its replay
    # key, its rate-limit tokens), so the platform's retry of this delivery counts as new.
    undo: dict[str, list[Callable[[], Awaitable[None]]]] = field(default_factory=dict)
    answer: Response | None = None
    reason: str = ""

    def finish(self, reason: str, answer: Response | None = None) -> None:
        self.reason = reason
        self.answer = answer or Response.json(200, {"ok": True})

    def on_undo(self, message: Inbound, action: Callable[[], Awaitable[None]]) -> None:
        self.undo.setdefault(message.id, []).append(action)

    def drop(self, message: Inbound, decision: str) -> None:
        self.messages.remove(message)
        self.decisions.append({**message.audit(), "decision": decision})


class DeliveryStage(Protocol):
    name: ClassVar[str]

    async def __call__(self, delivery: Delivery) -> None: ...


class Method:
    """POST delivers; GET is the platform's handshake if it has one; nothing else."""

    name: ClassVar[str] = "method"

    async def __call__(self, delivery: Delivery) -> None:
        request = delivery.flow.request
        if request.method == "POST":
            return
        answer = delivery.platform.handshake(request.query) if request.method == "GET" else None
        if answer is None:
            allowed = delivery.platform.methods
            answer = Response.error(405, "method_not_allowed", f"the webhook takes {allowed}")
            answer.headers.set("allow", allowed)
        delivery.finish("handshake" if answer.status == 200 else "refused_method", answer)


class ReadCapped:
    """The body, refused (413) past the platform's cap: a declared Content-Length over it
    before reading anything, a chunked body as soon as the bytes read pass it."""

    name: ClassVar[str] = "size"

    async def __call__(self, delivery: Delivery) -> None:
        cap = delivery.platform.max_body
        body = delivery.flow.request.body
        too_large = Response.error(413, "body_too_large", f"a delivery is at most {cap} bytes")
        if body.length is not None and body.length > cap:
            delivery.finish("too_large", too_large)
            return
        content = bytearray()
        async for chunk in body:
            content += chunk
            if len(content) > cap:
                delivery.finish("too_large", too_large)
                return
        delivery.raw = bytes(content)


class Signature:
    name: ClassVar[str] = "signature"

    async def __call__(self, delivery: Delivery) -> None:
        if not delivery.platform.verified(delivery.flow.request.headers, delivery.raw):
            refused = Response.error(401, "bad_signature", "the delivery is not signed")
            delivery.finish("bad_signature", refused)


class Parse:
    """JSON, then the platform's envelope. What cannot be read is a 200 (and audited): the
    platform would deliver the same bytes again and again. Statuses and updates that are not
    messages are ignored here, and so are messages to another number of the same app."""

    name: ClassVar[str] = "parse"

    async def __call__(self, delivery: Delivery) -> None:
        try:
            if len(delivery.raw) > THREAD_THRESHOLD:
                delivery.document = await asyncio.to_thread(_json, delivery.raw)
            else:
                delivery.document = _json(delivery.raw)
            delivery.messages = delivery.platform.inbound(delivery.document)
        except (ValueError, RecursionError) as exc:  # Malformed and UnicodeDecodeError too
            delivery.finish("malformed" if not isinstance(exc, Malformed) else "not_an_update")
            return
        for message in list(delivery.messages):
            if message.kind in ("status", "other"):
                delivery.drop(message, "ignored")


def _json(raw: bytes) -> object:
    return strict_json(raw.decode("utf-8"))


class Allowlist:
    """Only configured senders (in their own chat, or an allowed group) reach the agent. With
    `tell`, an unknown sender is told once (per replay period) that nobody answers them."""

    name: ClassVar[str] = "allowlist"

    def __init__(
        self, tell: bool, told: ReplayStore, clock: Callable[[], float], queue: JobQueue
    ) -> None:
        self._tell = tell
        self._told = told
        self._clock = clock
        self._queue = queue

    async def __call__(self, delivery: Delivery) -> None:
        for message in list(delivery.messages):
            if delivery.platform.allowed(message):
                continue
            delivery.drop(message, "unknown_sender")
            if self._tell and message.sender is not None and message.chat is not None:
                key = f"told:{message.platform}:{message.sender}"
                if await self._told.add(key, self._clock()):
                    self._queue.offer(Job(delivery.platform, message, UNKNOWN_SENDER_NOTE))


class Replay:
    """A message id seen before is a platform retry or a replay: answered 200, not relayed."""

    name: ClassVar[str] = "replay"

    def __init__(self, store: ReplayStore, clock: Callable[[], float]) -> None:
        self._store = store
        self._clock = clock

    async def __call__(self, delivery: Delivery) -> None:
        for message in list(delivery.messages):
            key = f"{message.platform}:{message.id}"
            if await self._store.add(key, self._clock()):
                delivery.on_undo(message, partial(self._store.discard, key))
            else:
                delivery.drop(message, "duplicate")


class RateLimit:
    """Over its sender's or its chat's rate a message is dropped and audited (a 429 would only
    make the platform deliver the flood again)."""

    name: ClassVar[str] = "rate_limit"

    def __init__(self, limits: RateLimits) -> None:
        self._limits = limits

    async def __call__(self, delivery: Delivery) -> None:
        for message in list(delivery.messages):
            platform = message.platform
            sender, chat = f"{platform}:{message.sender}", f"{platform}:{message.chat}"
            if self._limits.allow(sender, chat):
                delivery.on_undo(message, partial(self._refund, sender, chat))
            else:
                delivery.drop(message, "rate_limited")

    async def _refund(self, sender: str, chat: str) -> None:
        self._limits.refund(sender, chat)


class JobQueue(Protocol):
    def offer(self, job: Job) -> bool: ...


class Enqueue:
    """Text goes to the agent, button presses to the phone approvals; other message types get a
    short note. A full queue answers 503 (the platform delivers again later) and undoes what
    earlier stages counted for the messages it could not queue, so the retry is neither a
    replay nor over the rate limit."""

    name: ClassVar[str] = "enqueue"

    def __init__(self, queue: JobQueue) -> None:
        self._queue = queue

    async def __call__(self, delivery: Delivery) -> None:
        for message in list(delivery.messages):
            note = "" if message.kind in ("text", "button") else UNSUPPORTED_NOTE
            if self._queue.offer(Job(delivery.platform, message, note)):
                delivery.decisions.append({**message.audit(), "decision": "queued"})
                delivery.messages.remove(message)
                continue
            for unqueued in delivery.messages:
                for action in delivery.undo.get(unqueued.id, []):
                    await action()
                delivery.decisions.append({**unqueued.audit(), "decision": "queue_full"})
            busy = Response.error(503, "busy", "too many messages waiting; deliver again later")
            busy.headers.set("retry-after", str(RETRY_AFTER_SECONDS))
            delivery.finish("queue_full", busy)
            return
