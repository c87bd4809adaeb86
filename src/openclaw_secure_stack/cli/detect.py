"""`openclaw-secure-stack detect`: run the detection engine over JSON Lines on stdin."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Literal, TextIO

import typer

from openclaw_secure_stack.detect import Detector, TextTooLarge, load_classifier, load_detector
from openclaw_secure_stack.detect.rules import Family
from openclaw_secure_stack.settings import load_settings

KINDS = ("direct", "indirect")


def scan_line(detector: Detector, line: bytes, default_kind: str | None) -> dict[str, object]:
    """One output record for one input line; a bad line gives an error record, never a raise."""
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        return {"id": None, "error": f"invalid JSON: {exc.msg} at column {exc.colno}"}
    except UnicodeDecodeError:
        return {"id": None, "error": "the line is not UTF-8"}
    except RecursionError:
        return {"id": None, "error": "invalid JSON: nested too deeply"}
    if not isinstance(item, dict):
        return {"id": None, "error": "each line must be a JSON object"}
    item_id = item.get("id")
    text = item.get("text")
    kind = default_kind or item.get("kind")
    if not isinstance(text, str):
        return {"id": item_id, "error": "'text' must be a string"}
    if kind not in KINDS:
        return {"id": item_id, "error": "'kind' must be 'direct' or 'indirect' (or pass --kind)"}
    family: Family = "direct" if kind == "direct" else "indirect"
    try:
        verdict = detector.detect(text, family)
    except TextTooLarge as exc:
        return {"id": item_id, "error": str(exc)}
    return {"id": item_id, **verdict.to_record()}


def run(detector: Detector, lines: Iterable[bytes], out: TextIO, default_kind: str | None) -> int:
    """Scan every non-blank line; returns how many lines were errors. Output is ASCII JSON, so
    ids with lone surrogates or any other odd text cannot break the writer."""
    errors = 0
    for line in lines:
        if not line.strip():
            continue
        record = scan_line(detector, line, default_kind)
        errors += "error" in record
        out.write(json.dumps(record) + "\n")
    out.flush()
    return errors


def detect(
    kind: Annotated[
        Literal["direct", "indirect"] | None,
        typer.Option(help="Scan every line as this kind, ignoring each line's 'kind'."),
    ] = None,
    direct_rules: Annotated[
        Path | None, typer.Option(help="Direct rules file (default: PROMPT_RULES_PATH).")
    ] = None,
    indirect_rules: Annotated[
        Path | None, typer.Option(help="Indirect rules file (default: INDIRECT_RULES_PATH).")
    ] = None,
    classifier: Annotated[
        bool,
        typer.Option(
            help="Also score direct text with the learned classifier (--no-classifier: rules only)."
        ),
    ] = True,
    classifier_model: Annotated[
        Path | None,
        typer.Option(help="Classifier manifest (default: CLASSIFIER_MODEL_PATH)."),
    ] = None,
) -> None:
    """Scan JSON Lines from stdin for prompt injection, one verdict line per input.

    Input lines: {"id": ..., "text": "...", "kind": "direct"|"indirect"}. "direct" is what a
    person writes (user messages); "indirect" is tool results, fetched pages, files and replies.

    Output lines: {"id", "verdict": "reject"|"strip"|"flag"|"pass", "rules": [rule ids],
    "spans": [{"rule", "start", "end", "view"}]}; spans are character offsets into "text".
    Direct lines also get "classifier": {"probability", "decision", "top_ngrams"}: the model's
    score, its own action by CLASSIFIER_FLAG_THRESHOLD / CLASSIFIER_REJECT_THRESHOLD (default:
    the thresholds recorded with the model), and the words that weighed most; the verdict is the
    stronger of the rules' and the model's.
    A line that cannot be scanned gives {"id", "error"} and the run goes on; the exit code is 1
    if any line was an error, 2 if the rules or the classifier cannot be loaded.
    """
    config = load_settings().detection_config()
    model = (
        load_classifier(
            classifier_model or config.classifier_model,
            config.flag_threshold,
            config.reject_threshold,
        )
        if classifier
        else None
    )
    detector = load_detector(
        direct_rules or config.prompt_rules,
        indirect_rules or config.indirect_rules,
        classifier=model,
    )
    errors = run(detector, sys.stdin.buffer, sys.stdout, kind)
    if errors:
        raise typer.Exit(1)
