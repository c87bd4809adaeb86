"""`openclaw-secure-stack scan PATH`: skills, plugins, packages and archives to verdicts.

Exit codes: 0 when no unit reaches `--fail-on`, 1 when one does, 2 on a usage or input error
(a missing path, a refused archive, unreadable rules)."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from openclaw_secure_stack.quarantine.configured import open_quarantine
from openclaw_secure_stack.scanner import (
    ArchiveError,
    InputError,
    Scanner,
    ScanPool,
    Unit,
    UnitReport,
    discover,
    load_configured_scanner,
)
from openclaw_secure_stack.scanner.model import VERDICTS, VerdictName
from openclaw_secure_stack.scanner.pins import unit_files
from openclaw_secure_stack.scanner.report import render_text, to_json
from openclaw_secure_stack.scanner.sarif import to_sarif
from openclaw_secure_stack.settings import Settings, load_settings

EXIT_FINDINGS = 1
EXIT_INPUT = 2
Format = Literal["text", "json", "sarif"]


def fails(reports: Sequence[UnitReport], fail_on: VerdictName) -> bool:
    """Whether a unit reaches `fail_on`; `clean` fails on any counted finding at all."""
    if fail_on == "clean":
        return any(r.verdict != "clean" or r.score < 100 for r in reports)
    threshold = VERDICTS.index(fail_on)
    return any(VERDICTS.index(report.verdict) >= threshold for report in reports)


# Below this, a unit is scanned in this process: starting workers costs more than it saves.
POOL_MIN_BYTES = 4 << 20


def _unit_bytes(root: Path) -> int:
    return sum(path.lstat().st_size for path in unit_files(root))


def scan_all(scanner: Scanner, path: Path, *, progress: bool, workers: int) -> list[UnitReport]:
    """Every unit under `path`, large ones on `workers` processes; raises InputError or
    ArchiveError."""
    pool: ScanPool | None = None
    try:
        with discover(path) as units:

            def one(unit: Unit) -> UnitReport:
                nonlocal pool
                spec = scanner.spec
                if workers > 1 and spec is not None and pool is None:
                    pool = (
                        ScanPool(spec, workers)
                        if _unit_bytes(unit.root) >= POOL_MIN_BYTES
                        else None
                    )
                return scanner.scan_unit(unit, pool)

            if not progress or len(units) < 2:
                return [one(unit) for unit in units]
            reports = []
            columns = (
                TextColumn("scanning"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
            )
            with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
                task = bar.add_task("", total=len(units))
                for unit in units:
                    bar.update(task, description=Path(unit.label).name)
                    reports.append(one(unit))
                    bar.advance(task)
            return reports
    finally:
        if pool is not None:
            pool.close()


def scan(
    path: Annotated[
        Path,
        typer.Argument(
            help="A skill or plugin folder, a file, a .tgz/.zip, or a directory of skills."
        ),
    ],
    output: Annotated[
        Format,
        typer.Option(
            "--format",
            "-f",
            help="text (Rich), json (one object per unit per line) or sarif (2.1.0).",
        ),
    ] = "text",
    fail_on: Annotated[
        VerdictName,
        typer.Option(help="Exit 1 when a unit's verdict is at least this (clean: any finding)."),
    ] = "review",
    allow_domain: Annotated[
        list[str] | None,
        typer.Option(help="Another allowed host (and its subdomains); repeatable."),
    ] = None,
    show_info: Annotated[bool, typer.Option(help="Also list informational findings.")] = False,
    quarantine: Annotated[
        bool,
        typer.Option(
            "--quarantine",
            help="Move each unit reaching --fail-on into the quarantine (audited) and onto the "
            "prompt-guard plugin's list.",
        ),
    ] = False,
    user: Annotated[str | None, typer.Option(help="Who quarantines (audited).")] = None,
    workers: Annotated[
        int, typer.Option(min=1, help="Processes for large units (default: one per core).")
    ] = os.cpu_count() or 1,
) -> None:
    """Scan skills, plugins and packages for what malicious skills do.

    Reads SKILL.md (instructions, code blocks, links), JavaScript/TypeScript, shell, Python and
    package.json; each unit gets a verdict (clean, review, malicious), a trust score 0-100 and
    its findings (rule id, file, line, message).
    """
    settings = load_settings()
    scanner = load_configured_scanner(settings, allow_domain or ())
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        reports = scan_all(
            scanner, path, progress=output == "text" and sys.stderr.isatty(), workers=workers
        )
    except (InputError, ArchiveError) as exc:
        err.print(Text(f"error: {exc}", style="red"))
        raise typer.Exit(EXIT_INPUT) from None
    if output == "json":
        sys.stdout.write(to_json(reports))
    elif output == "sarif":
        sys.stdout.write(to_sarif(reports, scanner.book, version("openclaw-secure-stack")))
    else:
        render_text(reports, Console(highlight=False), show_info=show_info)
    if quarantine:
        quarantine_flagged(settings, scanner, reports, fail_on, user)
    if fails(reports, fail_on):
        raise typer.Exit(EXIT_FINDINGS)


def quarantine_flagged(
    settings: Settings,
    scanner: Scanner,
    reports: Sequence[UnitReport],
    fail_on: VerdictName,
    user: str | None,
) -> None:
    """Each flagged unit (the folder, file or archive named) into the vault and onto the list."""
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    with open_quarantine(settings, scanner) as vault:
        for report in reports:
            if fails([report], fail_on):
                entry = vault.quarantine(report, Path(report.path), f"scan: {report.verdict}", user)
                err.print(Text(f"quarantined {entry.name}: {entry.vault_path}", style="yellow"))
