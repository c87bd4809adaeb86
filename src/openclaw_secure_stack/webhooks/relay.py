"""The background half of a relay: a bounded queue of jobs and the job itself.

The webhook answers the platform as soon as a message is queued, so a slow agent turn never
makes the platform time out and deliver again. A job sends the message to OpenClaw through the
proxy's own pipeline (`default_stages` without client auth: sanitize, governance, the session
binding, the durable intent record, forward, response scan and the outcome record), as the
OpenAI request `{"model": "openclaw", "messages": [user text], "user": "<platform>-chat-<id>"}`
from the actor `webhook:<platform>`: one stable OpenClaw session per chat, in a namespace no
client token can name (token names cannot hold ':'). Then it sends the answer, or a short note
saying why there is none, back through the platform's API.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import AsyncIterable, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from openclaw_secure_stack.audit.sink import AuditEvent, AuditSink
from openclaw_secure_stack.proxy.flow import Body, Flow, Headers, Request
from openclaw_secure_stack.webhooks.api import ApiError
from openclaw_secure_stack.webhooks.approvals import PhoneApprovals
from openclaw_secure_stack.webhooks.messages import Inbound
from openclaw_secure_stack.webhooks.platforms import Platform

log = logging.getLogger(__name__)

AGENT_PATH = "/v1/chat/completions"
MAX_ANSWER_BYTES = 1024 * 1024
WITHHELD_ACTIONS = frozenset({"reject", "strip"})
UNSUPPORTED_NOTE = "Only text messages reach the agent; this one was not passed on."
UNKNOWN_SENDER_NOTE = "This agent does not answer you. (Message not passed on.)"


# Runs a flow through the proxy's pipeline after client auth (`pipeline.default_stages`).
Agent = Callable[[Flow], Awaitable[None]]


@dataclass(frozen=True)
class Job:
    """Relay `message` to the agent and send its answer; a button press goes to the phone
    approvals instead; with `note`, just send the note."""

    platform: Platform
    message: Inbound
    note: str = ""


def actor(platform: str) -> str:
    return f"webhook:{platform}"


def agent_flow(message: Inbound) -> Flow:
    """The chat request a text message becomes, as a flow for the proxy's pipeline."""
    document = {
        "model": "openclaw",
        "messages": [{"role": "user", "content": message.text}],
        "user": f"{message.platform}-chat-{message.chat}",
    }
    request = Request(
        method="POST",
        path=AGENT_PATH,
        query="",
        headers=Headers([("content-type", "application/json")]),
        client=None,
        scheme="https",
        body=Body.whole(json.dumps(document).encode()),
    )
    flow = Flow(request, request_id=os.urandom(16).hex(), actor=actor(message.platform))
    flow.notes["webhook"] = message.audit()
    return flow


def answer_text(status: int, content: bytes, findings: Sequence[Mapping[str, object]]) -> str:
    """What the person gets: the agent's text, or a note saying why they get none. A reply the
    response scan would strip or reject is withheld; one it flags is sent with a warning."""
    document = _json(content)
    if status != 200:
        error = document.get("error") if isinstance(document, dict) else None
        error = error if isinstance(error, dict) else {}
        code = str(error.get("code") or status)
        if code == "prompt_injection":
            named = error.get("rules")
            rules = ", ".join(map(str, named)) if isinstance(named, list) else "its rules"
            return f"Your message was not passed to the agent: it matched {rules}."
        return f"The agent could not answer ({code})."
    scan = [f for f in findings if f.get("stage") == "scan_response"]
    rules = ", ".join(sorted({str(f.get("rule")) for f in scan}))
    if any(f.get("action") in WITHHELD_ACTIONS for f in scan):
        return f"The agent's answer was withheld: it matched {rules}."
    text = _content(document)
    if text is None:
        return "The agent gave no text answer."
    if scan:
        return f"{text}\n\n[flagged by OpenClaw Secure Stack: {rules}]"
    return text


def _json(content: bytes) -> object:
    try:
        return json.loads(content)
    except (ValueError, RecursionError):
        return None


def _content(document: object) -> str | None:
    choices = document.get("choices") if isinstance(document, dict) else None
    first = choices[0] if isinstance(choices, list) and choices else None
    message = first.get("message") if isinstance(first, dict) else None
    text = message.get("content") if isinstance(message, dict) else None
    return text if isinstance(text, str) and text else None


async def _read(body: AsyncIterable[bytes], limit: int) -> bytes:
    content = bytearray()
    async for chunk in body:
        content += chunk
        if len(content) > limit:
            raise ValueError(f"the answer is larger than {limit} bytes")
    return bytes(content)


class Relay:
    """One job: ask the agent (unless it is a note), reply, and audit the outcome."""

    def __init__(self, agent: Agent, approvals: PhoneApprovals, audit: AuditSink) -> None:
        self._agent = agent
        self._approvals = approvals
        self._audit = audit

    async def __call__(self, job: Job) -> None:
        message = job.message
        details: dict[str, object] = {"platform": message.platform, "message": message.audit()}
        request_id: str | None = None
        try:
            if message.kind == "button":
                note = await self._approvals.press(message)
                details["parts"] = await job.platform.acknowledge(message, note)
                self._record("sent", None, details)
                return
            if job.note:
                text = job.note
                details["note"] = True
            else:
                flow = agent_flow(message)
                request_id = flow.request_id
                text = await self._ask(flow)
            if message.chat is None:
                raise ValueError("a message without a chat cannot be answered")
            details["parts"] = await job.platform.send_text(message.chat, text)
        except ApiError as exc:
            details["reason"] = str(exc)
            self._record("error", request_id, details)
            return
        except Exception as exc:
            log.exception("relaying %s message %s failed", message.platform, message.id)
            details["reason"] = type(exc).__name__
            self._record("error", request_id, details)
            return
        self._record("sent", request_id, details)

    async def _ask(self, flow: Flow) -> str:
        try:
            await self._agent(flow)
            response = flow.response
            if response is None:
                return "The agent could not answer (no_response)."
            try:
                content = await _read(response.body, MAX_ANSWER_BYTES)
            except Exception as exc:
                code = getattr(exc, "code", type(exc).__name__)
                return f"The agent's answer could not be delivered ({code})."
            return answer_text(response.status, content, flow.findings)
        finally:
            for cleanup in flow.cleanups:
                await cleanup()

    def _record(self, outcome: str, request_id: str | None, details: dict[str, object]) -> None:
        self._audit.write(
            AuditEvent(
                "webhook.reply", outcome, actor(str(details["platform"])), request_id, details
            )
        )


class RelayQueue:
    """At most `size` jobs waiting, `workers` running; workers start with the first job (in the
    worker process's own event loop)."""

    def __init__(
        self, handle: Callable[[Job], Awaitable[None]], *, size: int, workers: int
    ) -> None:
        self._handle = handle
        self._queue: asyncio.Queue[Job] = asyncio.Queue(size)
        self._workers = workers
        self._tasks: list[asyncio.Task[None]] = []

    def offer(self, job: Job) -> bool:
        """Queue `job`; False when the queue is full."""
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._work()) for _ in range(self._workers)]
        try:
            self._queue.put_nowait(job)
        except asyncio.QueueFull:
            return False
        return True

    async def drained(self) -> None:
        """Wait until every queued job has finished (for tests and shutdown)."""
        await self._queue.join()

    async def _work(self) -> None:
        while True:
            job = await self._queue.get()
            try:
                await self._handle(job)
            except Exception:
                # The job audits its own failures; this is the audit sink itself failing.
                log.exception("a relay job failed")
            finally:
                self._queue.task_done()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
