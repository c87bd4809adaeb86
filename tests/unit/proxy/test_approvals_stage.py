"""Approvals stage: approvers list, show, approve and deny; nobody else; nothing forwarded."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from openclaw_secure_stack.audit.sink import CapturingSink
from openclaw_secure_stack.governance.desk import ApprovalDesk
from openclaw_secure_stack.governance.store import Approval, NewApproval, SqliteStore
from openclaw_secure_stack.proxy.approvals import Approvals
from openclaw_secure_stack.proxy.testing import make_flow


@pytest.fixture
async def stage(tmp_path: Path) -> AsyncIterator[tuple[Approvals, Approval]]:
    store = SqliteStore(tmp_path / "gov.sqlite")
    new = NewApproval(
        "h1", "exec", '{"command": "make"}', "agent:main:s", "alice", "why", ("OSS-GOV-012",)
    )
    pending = await store.request(new, 1e12, 600.0)
    yield Approvals(ApprovalDesk(store, CapturingSink(), frozenset({"alice", "ci"}))), pending
    await store.close()


async def call(
    stage: Approvals, path: str, method: str = "GET", actor: str | None = "ci"
) -> tuple[int | None, dict[str, object]]:
    flow = make_flow(path, method=method)
    flow.actor = actor
    await stage(flow)
    if flow.response is None:
        return None, {}
    content = b"".join([chunk async for chunk in flow.response.body])
    return flow.response.status, json.loads(content)


async def test_other_paths_pass_through(stage: tuple[Approvals, Approval]) -> None:
    """The stage answers only under /governance/."""
    assert await call(stage[0], "/v1/chat/completions", "POST") == (None, {})
    assert await call(stage[0], "/governancex", "GET") == (None, {})


async def test_list_show_approve(stage: tuple[Approvals, Approval]) -> None:
    """An approver lists pending approvals, shows one and approves it once."""
    approvals, pending = stage
    status, body = await call(approvals, "/governance/approvals")
    assert status == 200 and [a["id"] for a in body["approvals"]] == [pending.id]  # type: ignore[attr-defined]
    status, body = await call(approvals, f"/governance/approvals/{pending.id}")
    assert status == 200 and body["approval"]["params"] == {"command": "make"}  # type: ignore[index]
    status, body = await call(approvals, f"/governance/approvals/{pending.id}/approve", "POST")
    assert status == 200 and body["approval"]["state"] == "approved"  # type: ignore[index]
    status, body = await call(approvals, f"/governance/approvals/{pending.id}/deny", "POST")
    assert status == 409 and body["error"]["code"] == "approval_approved"  # type: ignore[index]


@pytest.mark.parametrize(
    ("actor", "path", "method", "status", "code"),
    [
        ("bob", "/governance/approvals", "GET", 403, "not_an_approver"),
        (None, "/governance/approvals", "GET", 403, "not_an_approver"),
        ("alice", "/governance/approvals/{id}/approve", "POST", 403, "self_approval"),
        ("ci", "/governance/approvals/nope", "GET", 404, "unknown_approval"),
        ("ci", "/governance/approvals", "POST", 404, "not_found"),
        ("ci", "/governance/approvals/{id}/approve", "GET", 404, "not_found"),
        ("ci", "/governance/approvals/{id}/launch", "POST", 404, "not_found"),
        ("ci", "/governance/other", "GET", 404, "not_found"),
    ],
)
async def test_refusals(
    stage: tuple[Approvals, Approval],
    actor: str | None,
    path: str,
    method: str,
    status: int,
    code: str,
) -> None:
    """Non-approvers, the requester, unknown ids and routes each get their own 4xx."""
    approvals, pending = stage
    got, body = await call(approvals, path.format(id=pending.id), method, actor)
    assert (got, body["error"]["code"]) == (status, code)  # type: ignore[index]
