"""The pipeline: one ordered list, run fail-closed."""

from __future__ import annotations

from typing import ClassVar

from openclaw_secure_stack.audit.sink import CapturingSink
from openclaw_secure_stack.proxy.flow import ClientGone, Flow, Reject, Response
from openclaw_secure_stack.proxy.pipeline import default_stages, run_stages
from openclaw_secure_stack.proxy.testing import (
    TEST_AUDIT_KEY,
    TEST_CLIENT_TOKENS,
    TEST_GATEWAY_TOKEN,
    make_flow,
)
from openclaw_secure_stack.proxy.upstream import Upstream
from openclaw_secure_stack.settings import Settings


class Record:
    """Notes that it ran; optionally answers or raises."""

    name: ClassVar[str] = "record"
    sees_answered: ClassVar[bool] = False

    def __init__(self, label: str, *, answer: bool = False, error: Exception | None = None) -> None:
        self.label = label
        self.answer = answer
        self.error = error

    async def __call__(self, flow: Flow) -> None:
        flow.notes.setdefault("ran", []).append(self.label)  # type: ignore[union-attr]
        if self.error is not None:
            raise self.error
        if self.answer:
            flow.response = Response.json(200, {"by": self.label})


class Final(Record):
    sees_answered: ClassVar[bool] = True


def test_default_stages_are_in_pipeline_order() -> None:
    """auth, probes, approvals, routes, sanitize, frames, session, intent, forward, scan_response,
    audit: request stages, the durable intent record right before the forwarder, response stages,
    audit last."""
    settings = Settings(
        _env_file=None,
        openclaw_gateway_token=TEST_GATEWAY_TOKEN,
        client_tokens=",".join(f"{k}:{v}" for k, v in TEST_CLIENT_TOKENS.items()),
        audit_key=TEST_AUDIT_KEY,
    )
    config = settings.proxy_config()
    stages = default_stages(config, CapturingSink(), Upstream(config.upstream))
    assert [stage.name for stage in stages] == [
        "auth",
        "probes",
        "approvals",
        "routes",
        "sanitize",
        "frames",
        "session",
        "intent",
        "forward",
        "scan_response",
        "audit",
    ]


async def test_stages_run_in_list_order() -> None:
    """Every stage runs, in order, while nobody answers."""
    flow = make_flow()
    await run_stages([Record("a"), Record("b"), Final("c")], flow)
    assert flow.notes["ran"] == ["a", "b", "c"]


async def test_after_an_answer_only_answered_stages_run() -> None:
    """Once a stage answers, later request stages are skipped but response/audit stages run."""
    flow = make_flow()
    await run_stages([Record("a", answer=True), Record("forward"), Final("audit")], flow)
    assert flow.notes["ran"] == ["a", "audit"]


async def test_a_stage_that_raises_denies_and_audit_still_runs() -> None:
    """An unexpected exception is a 500 naming the stage, never a pass-through."""
    flow = make_flow()
    await run_stages(
        [Record("a", error=ValueError("bug")), Record("forward"), Final("audit")], flow
    )
    assert flow.notes["ran"] == ["a", "audit"]
    assert flow.response is not None and flow.response.status == 500
    assert flow.notes["denied"] == "stage_failed"
    assert flow.notes["stage_error"] == "record: ValueError"


async def test_reject_becomes_its_own_status() -> None:
    """A stage may raise Reject to answer with a specific status and code."""
    flow = make_flow()
    await run_stages(
        [Record("a", error=Reject(413, "body_too_large", "big")), Final("audit")], flow
    )
    assert flow.response is not None and flow.response.status == 413
    assert (flow.notes["denied"], flow.notes["denied_by"]) == ("body_too_large", "record")


async def test_an_answered_stage_that_raises_replaces_the_answer() -> None:
    """A failing response stage blocks the reply it was given (fail closed)."""
    flow = make_flow()
    await run_stages(
        [Record("a", answer=True), Final("scan", error=RuntimeError()), Final("audit")], flow
    )
    assert flow.response is not None and flow.response.status == 500
    assert flow.notes["ran"] == ["a", "scan", "audit"]


async def test_broken_off_body_is_a_400_denial_the_audit_stage_sees() -> None:
    """A body that broke off (client gone or malformed chunk) ends the request stages with
    400 incomplete_body: the forwarder is skipped, the audit stage records it."""
    flow = make_flow()
    await run_stages([Record("read", error=ClientGone()), Record("forward"), Final("audit")], flow)
    assert flow.notes["ran"] == ["read", "audit"]
    assert flow.response is not None and flow.response.status == 400
    assert (flow.notes["denied"], flow.notes["denied_by"]) == ("incomplete_body", "record")
