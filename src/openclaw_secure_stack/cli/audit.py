"""`audit verify` and `audit tail`: check the tamper-evident chain and read recent events."""

from __future__ import annotations

import json
import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.text import Text

from openclaw_secure_stack.audit.anchor import default_anchor_path
from openclaw_secure_stack.audit.log import AuditLog, AuditLogError, chain_paths
from openclaw_secure_stack.audit.tail import LogTail
from openclaw_secure_stack.audit.verify import Verification, verify_anchored, verify_chain
from openclaw_secure_stack.settings import load_settings

EXIT_BROKEN = 1
EXIT_USAGE = 2
FOLLOW_POLL_SECONDS = 0.5
DETAILS_WIDTH = 80

app = typer.Typer(
    help="Verify and read the tamper-evident audit log (AUDIT_LOG_PATH).",
    no_args_is_help=True,
)


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


FormatOption = Annotated[
    OutputFormat, typer.Option("--format", help="text for people, json for machines.")
]


@app.command()
def verify(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Log files, oldest first. Default: AUDIT_LOG_PATH and its rotated "
            "predecessors (audit.jsonl.000001, ...).",
            show_default=False,
        ),
    ] = None,
    output: FormatOption = OutputFormat.text,
    strict: Annotated[
        bool,
        typer.Option("--strict", help="Exit 1 on a trailing partial record too."),
    ] = False,
    pruned: Annotated[
        bool,
        typer.Option(
            "--allow-pruned-start",
            help="The oldest files were deleted on purpose (retention): accept a chain that "
            "does not start at seq 1, anchored on its first record.",
        ),
    ] = False,
    no_anchor: Annotated[
        bool,
        typer.Option(
            "--no-anchor",
            help="Do not compare with the anchor (AUDIT_ANCHOR_PATH), e.g. for an archived "
            "copy: records cut off the end then go unnoticed.",
        ),
    ] = False,
) -> None:
    """Check every record's mac, seq and prev link with AUDIT_KEY, and the chain's end against
    the signed anchor; report the first break.

    Exit 0: the chain is intact and ends at the anchored record (or one after it).
    Exit 1: it is broken; the file, line and reason of the FIRST break are printed.
    Exit 2: usage or configuration error.

    The anchor (AUDIT_ANCHOR_PATH, default AUDIT_LOG_PATH.anchor) holds the
    head the writers last sealed: a log cut short, deleted, or replaced by an
    older copy is a break. A last line without a newline at the end of the
    live file is a record whose writer was killed mid-write; it was never
    acknowledged, so it is reported as "intact up to line N; trailing partial
    record" with exit 0 (--strict: exit 1). In a rotated file it is a break.
    """
    settings = load_settings()
    if settings.audit_key is None:
        _usage_error("AUDIT_KEY: not set; verify needs the key the log was written with", output)
    anchor_path = settings.audit_anchor_path or default_anchor_path(settings.audit_log_path)
    files = paths or chain_paths(settings.audit_log_path)
    if not files and (no_anchor or not anchor_path.exists()):
        _usage_error(f"no audit log at {settings.audit_log_path} (AUDIT_LOG_PATH)", output)
    for path in files:
        if not path.is_file():
            _usage_error(f"{path}: no such file", output)
    key = settings.audit_key.get_secret_value().encode()
    if no_anchor:
        result = verify_chain(files, key, pruned_start=pruned)
    else:
        # The default chain is listed again under the writers' lock (it may rotate meanwhile).
        result = verify_anchored(
            paths or None, key, anchor_path, log_path=settings.audit_log_path, pruned_start=pruned
        )
    if output is OutputFormat.json:
        sys.stdout.write(json.dumps(result.as_json()) + "\n")
    else:
        _print_verification(result, no_anchor=no_anchor)
    if not result.intact or (strict and result.partial):
        raise typer.Exit(EXIT_BROKEN)


@app.command()
def anchor(
    reason: Annotated[
        str,
        typer.Option("--reason", help="Why the head is re-sealed; recorded in the log."),
    ] = "operator re-anchored the log",
) -> None:
    """Seal the log's current head in the anchor after it went missing, invalid or stale.

    Writers refuse to append (fail closed) while the anchor of a log with records is missing,
    invalid or behind the log; this is the way out. Run `audit verify --no-anchor` first: the
    head sealed here is whatever the log now ends with. An `audit.reanchored` record (with the
    reason and what the anchor said) is appended and becomes the anchored head.
    """
    settings = load_settings()
    if settings.audit_key is None:
        _usage_error(
            "AUDIT_KEY: not set; anchor needs the key the log is written with", OutputFormat.text
        )
    sealer = AuditLog(
        settings.audit_log_path,
        settings.audit_key.get_secret_value().encode(),
        settings.audit_rotate_bytes,
        anchor_path=settings.audit_anchor_path,
        reanchor=True,
    )
    try:
        sealer.resume("operator", event="audit.reanchored", details={"reason": reason})
    except AuditLogError as exc:
        _usage_error(str(exc), OutputFormat.text)
    finally:
        sealer.close()
    Console(highlight=False, soft_wrap=True).print(
        Text(
            f"OK sealed the head of {settings.audit_log_path} in {sealer.anchor_path}",
            style="green",
        )
    )


@app.command()
def tail(
    path: Annotated[
        Path | None,
        typer.Argument(help="Log file. Default: AUDIT_LOG_PATH.", show_default=False),
    ] = None,
    lines: Annotated[int, typer.Option("-n", "--lines", min=0, help="How many events.")] = 20,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new events (Ctrl-C stops).")
    ] = False,
    output: FormatOption = OutputFormat.text,
) -> None:
    """Show the most recent events: time, seq, event, actor, outcome, request id, details.

    This only reads the log; it does not check macs (use `audit verify`).
    """
    log_path = path or load_settings().audit_log_path
    if not chain_paths(log_path) and not follow:
        _usage_error(f"no audit log at {log_path}", output)
    console = Console(highlight=False, soft_wrap=True)
    reader = LogTail(log_path)
    try:
        _show(reader.recent(lines), output, console)
        while follow:
            time.sleep(FOLLOW_POLL_SECONDS)
            _show(reader.new_lines(), output, console)
    except KeyboardInterrupt:
        pass
    finally:
        reader.close()


def _usage_error(message: str, output: OutputFormat) -> NoReturn:
    if output is OutputFormat.json:
        sys.stdout.write(json.dumps({"error": message}) + "\n")
    else:
        errors = Console(stderr=True, highlight=False, soft_wrap=True)
        errors.print(Text(f"error: {message}", style="red"))
    raise typer.Exit(EXIT_USAGE)


def _print_verification(result: Verification, *, no_anchor: bool) -> None:
    console = Console(highlight=False, soft_wrap=True)
    for partial in result.partial:
        console.print(
            Text(
                f"! {partial.file}: intact up to line {partial.line - 1}; trailing partial "
                f"record at line {partial.line} (a writer stopped mid-write; never acknowledged)",
                style="yellow",
            )
        )
    span = f"{result.first_ts} .. {result.last_ts}" if result.records else "no records"
    if result.broken is None:
        console.print(
            Text(
                f"OK audit chain intact: {result.records} records in {len(result.files)} "
                f"file(s), seq {result.first_seq}..{result.last_seq}, {span}"
                + ("" if result.anchor_seq is None else f", anchored at seq {result.anchor_seq}")
                + (" (not compared with the anchor)" if no_anchor else ""),
                style="green",
            )
        )
        return
    broken = result.broken
    console.print(
        Text(
            f"BROKEN {broken.file}:{broken.line}: {broken.reason.value}: {broken.message}",
            style="bold red",
        )
    )
    console.print(f"{result.records} records verified before the break ({span})")


def _show(raw_lines: list[bytes], output: OutputFormat, console: Console) -> None:
    for raw in raw_lines:
        try:
            record = json.loads(raw)
        except ValueError:
            record = None
        if not isinstance(record, dict):
            unreadable = raw.decode("utf-8", "replace").rstrip("\n")
            if output is OutputFormat.json:
                sys.stdout.write(json.dumps({"unreadable": unreadable}) + "\n")
            else:
                console.print(Text(f"(unreadable line) {_printable(unreadable)}", style="dim"))
            continue
        if output is OutputFormat.json:
            sys.stdout.write(json.dumps(record) + "\n")
        else:
            console.print(_event_line(record))
    sys.stdout.flush()


_OUTCOME_STYLES = {"allow": "green", "ok": "green", "deny": "red", "block": "red"}


def _event_line(record: dict[str, object]) -> Text:
    ts = str(record.get("ts", ""))
    outcome = str(record.get("outcome", ""))
    details = record.get("details")
    summary = (
        " ".join(f"{key}={_compact(value)}" for key, value in details.items())
        if isinstance(details, dict)
        else ""
    )
    if len(summary) > DETAILS_WIDTH:
        summary = summary[: DETAILS_WIDTH - 1] + "…"
    return Text.assemble(
        (ts[:19].replace("T", " ") + "Z", "dim"),
        f"  #{record.get('seq')}  ",
        (_printable(str(record.get("event"))), "bold"),
        "  ",
        (_printable(str(record.get("actor") or "-")), "cyan"),
        "  ",
        (_printable(outcome), _OUTCOME_STYLES.get(outcome, "yellow")),
        "  ",
        (_printable(str(record.get("request_id") or "-")), "dim"),
        "  ",
        _printable(summary),
    )


def _compact(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def _printable(text: str) -> str:
    # Events carry attacker-chosen text (paths, headers): never let it drive the terminal.
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)
