"""`token new NAME`: mint a named client token and print the configuration line for it."""

from __future__ import annotations

import hashlib
import json
import secrets
import sys
from typing import Annotated

import re2
import typer
from rich.console import Console
from rich.text import Text

from openclaw_secure_stack.cli.audit import OutputFormat

EXIT_USAGE = 2
_NAME = re2.compile(r"^[A-Za-z0-9_.-]{1,64}$")

app = typer.Typer(help="Create client tokens for the ingress proxy.", no_args_is_help=True)


def hashed_token(token: str) -> str:
    """The form CLIENT_TOKENS accepts instead of the token itself: `sha256:<hex>`."""
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


@app.command()
def new(
    name: Annotated[str, typer.Argument(help="Who the token is for (1-64 of A-Z a-z 0-9 _ . -).")],
    output: Annotated[
        OutputFormat, typer.Option("--format", help="text for people, json for machines.")
    ] = OutputFormat.text,
) -> None:
    """Print a new random token for NAME and the CLIENT_TOKENS entry that enables it.

    The name is what the audit log and approvals show as the caller. Prefer the hashed entry:
    then the proxy's configuration never holds the token itself. The token is shown once.
    """
    if not _NAME.match(name):
        Console(stderr=True, highlight=False, soft_wrap=True).print(
            Text(f"error: invalid NAME {name!r}: use 1-64 of A-Z a-z 0-9 _ . -", style="red")
        )
        raise typer.Exit(EXIT_USAGE)
    token = secrets.token_urlsafe(32)
    plain_entry, hashed_entry = f"{name}:{token}", f"{name}:{hashed_token(token)}"
    if output is OutputFormat.json:
        document = {
            "name": name,
            "token": token,
            "entry": plain_entry,
            "hashed_entry": hashed_entry,
        }
        sys.stdout.write(json.dumps(document) + "\n")
        return
    console = Console(highlight=False, soft_wrap=True)
    console.print(f"New token for {name} (shown once: give it to the client now):")
    console.print(Text(f"  {token}", style="bold"))
    console.print("Add ONE of these lines to the proxy's .env (the hashed one is safer):")
    console.print(f"  CLIENT_TOKENS={hashed_entry}")
    console.print(f"  CLIENT_TOKENS={plain_entry}")
    console.print(
        "If CLIENT_TOKENS already has entries, append ',<entry>'; in CLIENT_TOKENS_FILE put the "
        "entry on a line of its own. The client sends: Authorization: Bearer <token>"
    )
