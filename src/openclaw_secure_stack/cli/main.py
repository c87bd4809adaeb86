"""The `openclaw-secure-stack` command: one Typer app, each command group in its own module."""

from __future__ import annotations

import typer

from openclaw_secure_stack.cli import audit, detect, model_gateway, serve, token, up

app = typer.Typer(
    name="openclaw-secure-stack",
    help="Run OpenClaw behind an authenticating, injection-scanning, audited proxy.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
app.add_typer(audit.app, name="audit")
app.add_typer(token.app, name="token")
app.command("detect")(detect.detect)
app.command("serve")(serve.serve)
app.command("model-gateway")(model_gateway.model_gateway)
app.command("up")(up.up)
app.command("status")(up.status)
app.command("doctor")(up.doctor)
