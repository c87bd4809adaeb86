"""`approvals list|show|approve|deny` on the store the stack uses, audited."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from openclaw_secure_stack.audit.testing import TEST_KEY
from openclaw_secure_stack.cli.main import app
from openclaw_secure_stack.governance.store import Approval, NewApproval, SqliteStore


@pytest.fixture
def pending(no_stack_settings: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Approval:
    """A store with one pending approval requested by alice; bob and alice are approvers."""
    db = tmp_path / "gov" / "governance.sqlite"
    monkeypatch.setenv("GOVERNANCE_DB_PATH", str(db))
    monkeypatch.setenv("AUDIT_LOG_PATH", str(tmp_path / "audit" / "audit.jsonl"))
    monkeypatch.setenv("AUDIT_KEY", TEST_KEY.decode())
    monkeypatch.setenv("APPROVERS", "bob,alice")

    async def create() -> Approval:
        store = SqliteStore(db)
        try:
            new = NewApproval(
                "h1",
                "exec",
                '{"command": "make test"}',
                "agent:main:s",
                "alice",
                "Needs a person's approval",
                ("OSS-GOV-012",),
                "run-1",
                "call1",
            )
            return await store.request(new, 1e12, 600.0)
        finally:
            await store.close()

    return asyncio.run(create())


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["approvals", *args])
    return result.exit_code, result.stdout, result.stderr


def test_list_and_show(pending: Approval) -> None:
    """`list` shows what will run and who asked; `show --format json` the full record."""
    code, out, _ = invoke("list")
    assert code == 0 and pending.id in out and "make test" in out and "alice" in out
    code, out, _ = invoke("show", pending.id, "--format", "json")
    (record,) = json.loads(out)
    assert record["params"] == {"command": "make test"} and record["state"] == "pending"


def test_approve_once_and_audit(pending: Approval, tmp_path: Path) -> None:
    """An approver other than the requester approves; a second decision is refused."""
    code, out, _ = invoke("approve", pending.id, "--as", "bob")
    assert code == 0 and "approved" in out
    code, _, err = invoke("deny", pending.id, "--as", "bob")
    assert code == 1 and "approval_approved" in err
    records = [
        json.loads(line) for line in (tmp_path / "audit" / "audit.jsonl").read_text().splitlines()
    ]
    decided = [r for r in records if r["event"] == "governance.approval"]
    assert (
        len(decided) == 1 and decided[0]["actor"] == "bob" and decided[0]["outcome"] == "approved"
    )


@pytest.mark.parametrize(
    ("who", "code"), [("alice", "self_approval"), ("mallory", "not_an_approver")]
)
def test_refusals(pending: Approval, who: str, code: str) -> None:
    """The requester and names off APPROVERS cannot decide; nothing changes."""
    exit_code, _, err = invoke("approve", pending.id, "--as", who)
    assert exit_code == 1 and code in err
    _, out, _ = invoke("show", pending.id, "--format", "json")
    assert json.loads(out)[0]["state"] == "pending"


def test_unknown_id(pending: Approval) -> None:
    """An id that does not exist is refused with exit 1."""
    code, _, err = invoke("show", "nope")
    assert code == 1 and "unknown_approval" in err


def test_no_store_is_a_config_error(
    no_stack_settings: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without a store there is nothing to approve: exit 2 naming GOVERNANCE_DB_PATH."""
    monkeypatch.setenv("GOVERNANCE_DB_PATH", str(tmp_path / "none.sqlite"))
    code, _, err = invoke("list")
    assert code == 2 and "GOVERNANCE_DB_PATH" in err
