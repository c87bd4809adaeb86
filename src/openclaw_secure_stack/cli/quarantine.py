"""`quarantine list|show|override|release`, `rescan` and `pin add|verify|list|remove`.

Every change is written to the audit log before it takes effect, and the prompt-guard plugin's
list (`DATA_DIR/guard/quarantine.json`) is rewritten from the database, which the running plugin
picks up without a restart. Exit codes: 0 done, 1 refused (with the reason), 2 usage error.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from openclaw_secure_stack.quarantine import ACK_PHRASE, Quarantine, QuarantineError
from openclaw_secure_stack.quarantine.configured import open_quarantine
from openclaw_secure_stack.scanner import Scanner, discover, load_configured_scanner
from openclaw_secure_stack.settings import load_settings

app = typer.Typer(help="Quarantined skills and plugins.", no_args_is_help=True)
pins = typer.Typer(
    help="Pins: approved content digests of skills and plugins.", no_args_is_help=True
)
EXIT_REFUSED = 1
Format = Literal["text", "json"]


@contextmanager
def opened(scanner: Scanner | None = None) -> Iterator[Quarantine]:
    settings = load_settings()
    with open_quarantine(settings, scanner or load_configured_scanner(settings)) as quarantine:
        try:
            yield quarantine
        except QuarantineError as exc:
            Console(stderr=True, highlight=False, soft_wrap=True).print(
                Text(f"refused: {exc}", style="red")
            )
            raise typer.Exit(EXIT_REFUSED) from None


def _say(message: str, style: str = "green") -> None:
    Console(highlight=False, soft_wrap=True).print(Text(message, style=style))


@app.command("list")
def list_(
    output: Annotated[Format, typer.Option("--format", "-f")] = "text",
    every: Annotated[
        bool, typer.Option("--all", help="Also overridden and released units.")
    ] = False,
) -> None:
    """Units in quarantine (with --all: every unit the database knows)."""
    with opened() as quarantine:
        entries = quarantine.store.entries(None if every else "quarantined")
    if output == "json":
        for entry in entries:
            typer.echo(json.dumps({k: v for k, v in entry.to_record().items() if k != "findings"}))
        return
    table = Table("name", "status", "verdict", "score", "since", "reason", box=None)
    for entry in entries:
        table.add_row(
            entry.name,
            entry.status,
            entry.verdict,
            str(entry.score),
            entry.updated_at,
            entry.reason,
        )
    Console(highlight=False).print(table if entries else Text("nothing in quarantine"))


@app.command("show")
def show(name: str, output: Annotated[Format, typer.Option("--format", "-f")] = "text") -> None:
    """One unit's record and findings."""
    with opened() as quarantine:
        entry = quarantine.store.get(name)
        if entry is None:
            raise QuarantineError(f"no unit named {name} in the quarantine database")
    if output == "json":
        typer.echo(json.dumps(entry.to_record()))
        return
    console = Console(highlight=False, soft_wrap=True)
    for key, value in entry.to_record().items():
        if key != "findings":
            console.print(f"{key}: {value}")
    for finding in entry.findings:
        console.print(
            f"  {finding['severity']:<8} {finding['rule']} {finding['file']}:{finding['line']} "
            f"{finding['message']}"
        )


@app.command("override")
def override(
    name: str,
    ack: Annotated[str, typer.Option(help=f'Exactly "{ACK_PHRASE}".')],
    user: Annotated[str, typer.Option(help="Who accepts the risk (audited).")],
) -> None:
    """Accept the risk of a quarantined unit: put it back and take it off the plugin's list."""
    with opened() as quarantine:
        entry = quarantine.override(name, ack, user)
    _say(f"overridden by {user}: {name} is back at {entry.original_path}", "yellow")


@app.command("release")
def release(
    name: str, user: Annotated[str | None, typer.Option(help="Who releases it.")] = None
) -> None:
    """Put a unit back if a rescan with the current rules no longer flags it."""
    with opened() as quarantine:
        entry = quarantine.release(name, user)
    _say(f"released: {name} is back at {entry.original_path}")


def rescan() -> None:
    """Rescan every quarantined unit with the current rules and record the new verdicts."""
    with opened() as quarantine:
        results = quarantine.rescan()
    for entry, report in results:
        hint = (
            f" (`quarantine release {entry.name}` puts it back)"
            if report.verdict == "clean"
            else ""
        )
        _say(f"{entry.name}: {report.verdict}, score {report.score}{hint}", "default")
    if not results:
        _say("nothing in quarantine")


@pins.command("add")
def pin_add(
    path: Path,
    user: Annotated[str | None, typer.Option(help="Who approves this content.")] = None,
) -> None:
    """Pin the content of a skill or plugin folder (its name comes from SKILL.md/package.json)."""
    settings = load_settings()
    scanner = load_configured_scanner(settings)
    with discover(path) as units:
        if len(units) != 1 or units[0].root != path:
            raise typer.BadParameter(f"{path} is not one skill, plugin or file")
        name = scanner.scan_unit(units[0]).unit
    with opened(scanner) as quarantine:
        pin = quarantine.add_pin(path, name, user)
    _say(f"pinned {pin.name} at {pin.path}: sha256 {pin.sha256}")


@pins.command("verify")
def pin_verify() -> None:
    """Check every pin; a changed unit is rescanned and quarantined until re-approved."""
    with opened() as quarantine:
        results = quarantine.verify_pins()
    changed = False
    for pin, state in results:
        changed = changed or state != "ok"
        _say(f"{pin.name}: {state}", "green" if state == "ok" else "red")
    if changed:
        raise typer.Exit(EXIT_REFUSED)


@pins.command("list")
def pin_list() -> None:
    """Every pin with its digest."""
    with opened() as quarantine:
        for pin in quarantine.store.pins():
            typer.echo(f"{pin.name}\t{pin.sha256}\t{pin.path}")


@pins.command("remove")
def pin_remove(name: str, user: Annotated[str | None, typer.Option()] = None) -> None:
    """Forget a pin."""
    with opened() as quarantine:
        if not quarantine.remove_pin(name, user):
            raise QuarantineError(f"no pin named {name}")
    _say(f"unpinned {name}")
