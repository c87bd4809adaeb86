"""The `openclaw-secure-stack` command: one Typer app, each command group in its own module.

Configuration errors are handled here, once, for every command: the message names each variable
and its fix, and the exit code is 2. Commands load their configuration before they create
anything on disk, so a refused start leaves nothing behind.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperGroup

from openclaw_secure_stack.audit.log import AuditLogError
from openclaw_secure_stack.cli import (
    approvals,
    audit,
    detect,
    model_gateway,
    policy,
    quarantine,
    scan,
    serve,
    token,
    up,
)
from openclaw_secure_stack.cli import telegram as telegram_cli  # phone relays (issue 24)
from openclaw_secure_stack.detect import RulesError
from openclaw_secure_stack.governance import PolicyError, ToolTableError
from openclaw_secure_stack.proxy.routes import RouteTableError
from openclaw_secure_stack.quarantine import ListError, StoreError
from openclaw_secure_stack.scanner import ScannerRulesError
from openclaw_secure_stack.settings import SettingsError

EXIT_CONFIG = 2
# RulesError covers ClassifierError.
CONFIG_ERRORS = (
    SettingsError,
    RulesError,
    AuditLogError,
    RouteTableError,
    ScannerRulesError,
    StoreError,
    ListError,
    PolicyError,
    ToolTableError,
)


class Commands(TyperGroup):
    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except CONFIG_ERRORS as exc:
            Console(stderr=True, highlight=False, soft_wrap=True).print(
                Text(f"error: {exc}", style="red")
            )
            raise typer.Exit(EXIT_CONFIG) from None


app = typer.Typer(
    name="openclaw-secure-stack",
    help="Run OpenClaw behind an authenticating, injection-scanning, audited proxy.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
    cls=Commands,
)
app.add_typer(audit.app, name="audit")
app.add_typer(token.app, name="token")
app.add_typer(quarantine.app, name="quarantine")
app.add_typer(quarantine.pins, name="pin")
app.command("rescan")(quarantine.rescan)
app.add_typer(policy.app, name="policy")
app.add_typer(approvals.app, name="approvals")
app.command("detect")(detect.detect)
app.command("scan")(scan.scan)
app.command("serve")(serve.serve)
app.command("model-gateway")(model_gateway.model_gateway)
app.command("up")(up.up)
app.command("status")(up.status)
app.command("doctor")(up.doctor)
app.add_typer(telegram_cli.app, name="telegram")  # phone relays (issue 24)
