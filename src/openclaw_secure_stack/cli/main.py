"""The `openclaw-secure-stack` command: one Typer app, each command group in its own module."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="openclaw-secure-stack",
    help="Run OpenClaw behind an authenticating, injection-scanning, audited proxy.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
