"""Detection rules as data: load a rules file fail-closed.

A rules file (the packaged `data/prompt-rules.json`, `data/indirect-injection-rules.json`) is JSON:
`{"schema": 1, "family": "direct"|"indirect", "normalization": "nfkc-casefold-v1", "rules": [...]}`.
Each rule has a stable `id`, `title`, `rationale`, `severity`, `action`, `applies_to`, `patterns`
and `examples.positive` / `examples.negative`.

Patterns are matched against normalized text (see `normalize`), so they are lower case, and they
must be valid in both RE2 and JavaScript `RegExp` (the prompt-guard plugin loads the same file):
no lookaround, backreferences, inline flags, named groups, `\\A`/`\\z`, `\\p{..}` or `\\Q..\\E`.
Anything wrong (missing file, bad JSON, unknown field value, a pattern that does not compile or is
outside that common syntax) raises `RulesError` naming the file, the rule and the problem.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

import re2

from openclaw_secure_stack.detect.normalize import NORMALIZATION

Family = Literal["direct", "indirect"]
Action = Literal["reject", "strip", "flag"]
Severity = Literal["low", "medium", "high", "critical"]

SCHEMA_VERSION = 1
ACTIONS: tuple[Action, ...] = ("reject", "strip", "flag")
SEVERITIES: tuple[Severity, ...] = ("low", "medium", "high", "critical")
SOURCES: dict[Family, frozenset[str]] = {
    "direct": frozenset({"user_message"}),
    "indirect": frozenset({"tool_result", "fetched", "file", "response"}),
}
ID_PREFIX: dict[Family, str] = {"direct": "OSS-DIR-", "indirect": "OSS-IND-"}

# Escapes both RE2 and JavaScript read the same way (ASCII classes, literal punctuation, \xHH).
_PORTABLE_ESCAPES = frozenset("bBdDwWsSnrtfvx") | frozenset(r"\.^$|?*+()[]{}/-!\"'#%&,:;<=>@_`~ ")


class RulesError(Exception):
    """A rules file the stack cannot use; the message names the file, the rule and the problem."""


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    rationale: str
    severity: Severity
    action: Action
    applies_to: frozenset[str]
    patterns: tuple[str, ...]
    positive: tuple[str, ...]
    negative: tuple[str, ...]


@dataclass(frozen=True)
class RuleFile:
    path: Path
    family: Family
    rules: tuple[Rule, ...]


def portability_problem(pattern: str) -> str | None:
    """Why `pattern` is outside the RE2/JavaScript common syntax, or None if it is inside."""
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            escaped = pattern[index + 1 : index + 2]
            if escaped not in _PORTABLE_ESCAPES:
                return f"escape \\{escaped} is not portable between RE2 and JavaScript"
            index += 2
            continue
        if char == "(" and pattern.startswith("(?", index) and not pattern.startswith("(?:", index):
            return "only (?:...) groups are portable (no lookaround, flags or named groups)"
        if not char.isascii():
            return "non-ASCII characters never occur in normalized text; use ASCII"
        if char.isupper():
            return "upper-case letters never occur in normalized (lower-cased) text"
        index += 1
    return None


def _field(raw: dict[str, object], name: str, where: str) -> object:
    if name not in raw:
        raise RulesError(f"{where}: missing field {name!r}")
    return raw[name]


def _strings(value: object, where: str, *, allow_empty: bool = False) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise RulesError(f"{where}: must be a list of non-empty strings")
    if not value and not allow_empty:
        raise RulesError(f"{where}: must not be empty")
    return tuple(cast(list[str], value))


def _choice(value: object, allowed: tuple[str, ...], where: str) -> str:
    if value not in allowed:
        raise RulesError(f"{where}: {value!r} is not one of {', '.join(allowed)}")
    return str(value)


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RulesError(f"{where}: must be a non-empty string")
    return value


def _parse_rule(raw: object, family: Family, where: str) -> Rule:
    if not isinstance(raw, dict):
        raise RulesError(f"{where}: each rule must be a JSON object")
    rule_id = _text(_field(raw, "id", where), f"{where} id")
    if not rule_id.startswith(ID_PREFIX[family]):
        raise RulesError(f"{where}: id {rule_id!r} must start with {ID_PREFIX[family]}")
    where = f"{where.rsplit(' rule #', 1)[0]} rule {rule_id}"
    applies_to = _strings(_field(raw, "applies_to", where), f"{where} applies_to")
    unknown = set(applies_to) - SOURCES[family]
    if unknown:
        raise RulesError(
            f"{where} applies_to: {sorted(unknown)} not allowed for {family} rules "
            f"(use {sorted(SOURCES[family])})"
        )
    patterns = _strings(_field(raw, "patterns", where), f"{where} patterns")
    for number, pattern in enumerate(patterns, start=1):
        problem = portability_problem(pattern)
        if problem is None:
            try:
                compiled = re2.compile(pattern)
            except re2.error as exc:
                problem = f"does not compile with RE2 ({exc})"
            else:
                if compiled.search("") is not None:
                    problem = "matches the empty string"
        if problem:
            raise RulesError(f"{where} pattern {number} {pattern!r}: {problem}")
    examples = _field(raw, "examples", where)
    if not isinstance(examples, dict):
        raise RulesError(f"{where} examples: must be an object with positive and negative")
    return Rule(
        id=rule_id,
        title=_text(_field(raw, "title", where), f"{where} title"),
        rationale=_text(_field(raw, "rationale", where), f"{where} rationale"),
        severity=cast(Severity, _choice(_field(raw, "severity", where), SEVERITIES, where)),
        action=cast(Action, _choice(_field(raw, "action", where), ACTIONS, where)),
        applies_to=frozenset(applies_to),
        patterns=patterns,
        positive=_strings(_field(examples, "positive", where), f"{where} examples.positive"),
        negative=_strings(_field(examples, "negative", where), f"{where} examples.negative"),
    )


def parse_rules(document: object, family: Family, source: str) -> RuleFile:
    """Validate a parsed rules document; `source` names it in errors."""
    if not isinstance(document, dict):
        raise RulesError(f"{source}: top level must be a JSON object")
    if document.get("schema") != SCHEMA_VERSION:
        raise RulesError(
            f"{source}: schema must be {SCHEMA_VERSION}, got {document.get('schema')!r}"
        )
    if document.get("family") != family:
        raise RulesError(f"{source}: family must be {family!r}, got {document.get('family')!r}")
    if document.get("normalization") != NORMALIZATION:
        raise RulesError(
            f"{source}: normalization must be {NORMALIZATION!r}, "
            f"got {document.get('normalization')!r}"
        )
    raw_rules = document.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise RulesError(f"{source}: 'rules' must be a non-empty list")
    rules = tuple(
        _parse_rule(raw, family, f"{source} rule #{n}") for n, raw in enumerate(raw_rules, 1)
    )
    seen: set[str] = set()
    for rule in rules:
        if rule.id in seen:
            raise RulesError(f"{source}: rule id {rule.id} appears twice")
        seen.add(rule.id)
    return RuleFile(path=Path(source), family=family, rules=rules)


def load_rules(path: Path, family: Family) -> RuleFile:
    """Read and validate one rules file, or raise `RulesError` saying what is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError(f"{path}: cannot read rules file ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise RulesError(f"{path}: not UTF-8 ({exc.reason})") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RulesError(f"{path}: invalid JSON at line {exc.lineno} col {exc.colno}") from None
    return parse_rules(document, family, str(path))
