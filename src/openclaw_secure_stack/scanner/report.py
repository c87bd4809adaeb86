"""Reports: Rich text for people, JSON (one object per unit) for programs."""

from __future__ import annotations

import json
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from openclaw_secure_stack.scanner.model import UnitReport

VERDICT_STYLE = {"clean": "green", "review": "yellow", "malicious": "bold red"}
SEVERITY_STYLE = {
    "info": "dim",
    "low": "cyan",
    "medium": "yellow",
    "high": "red",
    "critical": "bold red",
}


def to_json(reports: Sequence[UnitReport]) -> str:
    """One JSON object per line, one line per unit."""
    return "".join(json.dumps(report.to_record(), ensure_ascii=True) + "\n" for report in reports)


def render_text(reports: Sequence[UnitReport], console: Console, *, show_info: bool) -> None:
    for report in reports:
        header = Text.assemble(
            (report.verdict.upper(), VERDICT_STYLE[report.verdict]),
            f"  {report.unit}  score {report.score}/100  ",
            (f"{report.kind}, {report.files} files, {report.bytes} bytes  {report.path}", "dim"),
        )
        console.print(header)
        shown = [f for f in report.findings if show_info or f.severity != "info"]
        if shown:
            table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
            for column in ("severity", "rule", "where", "finding"):
                table.add_column(column, overflow="fold")
            for finding in shown:
                where = f"{finding.file}:{finding.line}"
                if finding.origin == "dependency":
                    where += " (dependency)"
                table.add_row(
                    Text(finding.severity, SEVERITY_STYLE[finding.severity]),
                    finding.rule_id,
                    where,
                    finding.message + (" [declared]" if finding.declared else ""),
                )
            console.print(table)
        for error in report.errors:
            console.print(Text(f"  note: {error}", "dim"))
        console.print()
    counts = {verdict: sum(r.verdict == verdict for r in reports) for verdict in VERDICT_STYLE}
    console.print(
        Text.assemble(
            f"{len(reports)} unit(s): ",
            *(
                (f"{count} {verdict}  ", VERDICT_STYLE[verdict])
                for verdict, count in counts.items()
            ),
        )
    )
