"""`approvals list|show|approve|deny`: decide pending tool-call approvals from a terminal.

Reads the same SQLite store as the running stack (GOVERNANCE_DB_PATH) and audits each decision
in the same log (AUDIT_LOG_PATH, key from AUDIT_KEY or the one `up` generated). Deciding needs
`--as NAME`, a name on APPROVERS other than the requester's.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from openclaw_secure_stack.audit.log import AuditLog
from openclaw_secure_stack.cli.audit import FormatOption, OutputFormat
from openclaw_secure_stack.governance.desk import ApprovalDesk, approval_record
from openclaw_secure_stack.governance.store import Approval, ApprovalError, SqliteStore
from openclaw_secure_stack.runtime.credentials import (
    CredentialError,
    read_secret_file,
    secrets_dir,
)
from openclaw_secure_stack.settings import Settings, SettingsError, load_settings

EXIT_REFUSED = 1
T = TypeVar("T")

app = typer.Typer(
    help="List, show, approve and deny tool calls waiting for a person (GOVERNANCE_DB_PATH).",
    no_args_is_help=True,
)
ApproverOption = Annotated[
    str, typer.Option("--as", help="Your approver name (one of APPROVERS).", show_default=False)
]


def _audit_key(settings: Settings) -> bytes:
    if settings.audit_key is not None:
        return settings.audit_key.get_secret_value().encode()
    generated = secrets_dir(settings.data_dir) / "audit-key"
    if generated.exists():
        try:
            return read_secret_file(generated).encode()
        except CredentialError as exc:
            raise SettingsError(f"AUDIT_KEY: not set, and {exc}") from None
    raise SettingsError("AUDIT_KEY: not set; approval decisions are audited with it")


def _with_desk(work: Callable[[ApprovalDesk], Awaitable[T]]) -> T:
    settings = load_settings()
    config = settings.governance_config()
    if not config.db_path.exists():
        raise SettingsError(f"GOVERNANCE_DB_PATH: {config.db_path} does not exist (is `up` run?)")
    audit = AuditLog(
        settings.audit_log_path,
        _audit_key(settings),
        settings.audit_rotate_bytes,
        anchor_path=settings.audit_anchor_path,
    )

    async def run() -> T:
        store = SqliteStore(config.db_path)
        try:
            return await work(ApprovalDesk(store, audit, config.approvers))
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    except ApprovalError as exc:
        Console(stderr=True, highlight=False, soft_wrap=True).print(
            Text(f"refused ({exc.code}): {exc}", style="red")
        )
        raise typer.Exit(EXIT_REFUSED) from None
    finally:
        audit.close()


def _print(approvals: list[Approval], output: OutputFormat) -> None:
    if output is OutputFormat.json:
        sys.stdout.write(json.dumps([approval_record(a) for a in approvals]) + "\n")
        return
    console = Console(highlight=False, soft_wrap=True)
    if not approvals:
        console.print("no approvals")
    for approval in approvals:
        left = max(0, int(approval.expires - time.time()))
        console.print(
            Text(f"{approval.id}  {approval.state.value}  {approval.tool}", style="bold"),
            f" requested by {approval.requester}, session {approval.session}, {left}s left",
        )
        console.print(Text(f"  will run: {approval.params_json}"))
        console.print(Text(f"  why: {approval.reason}"))


@app.command("list")
def list_pending(output: FormatOption = OutputFormat.text) -> None:
    """Pending approvals, oldest first, with exactly what each would run."""
    _print(list(_with_desk(lambda desk: desk.pending())), output)


@app.command()
def show(
    approval_id: Annotated[str, typer.Argument(help="The approval's id.")],
    output: FormatOption = OutputFormat.text,
) -> None:
    """One approval in any state (exit 1 if unknown)."""
    _print([_with_desk(lambda desk: desk.show(approval_id))], output)


@app.command()
def approve(
    approval_id: Annotated[str, typer.Argument(help="The approval's id.")],
    approver: ApproverOption,
    output: FormatOption = OutputFormat.text,
) -> None:
    """Allow the exact call once (exit 1 if refused: not an approver, requester, expired...)."""
    _print([_with_desk(lambda desk: desk.decide(approval_id, approver, approve=True))], output)


@app.command()
def deny(
    approval_id: Annotated[str, typer.Argument(help="The approval's id.")],
    approver: ApproverOption,
    output: FormatOption = OutputFormat.text,
) -> None:
    """Refuse the call; it never runs under this approval."""
    _print([_with_desk(lambda desk: desk.decide(approval_id, approver, approve=False))], output)
