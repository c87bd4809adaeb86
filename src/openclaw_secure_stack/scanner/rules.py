"""Scanner rules as data: `data/scanner-rules.json`, loaded fail-closed.

Each rule has a stable id (`OSS-SCAN-NNN`), a category, a severity, a confidence, a rationale and
positive and negative examples (`{"file", "code"}`) that `tests/unit/scanner/test_rules.py` runs
through the scanner. Syntax rules are matched in code (the language analyzers, which name the
rule ids they raise); text rules carry RE2 `patterns` and the `scopes` they apply to: `prose`
(markdown text), `string` (string literals in code) and `shell` (shell commands). The file also
holds the global domain allowlist and the host lists (paste sites, file hosts, webhook catchers).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import re2
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from openclaw_secure_stack.scanner.model import Confidence, Severity

Scope = Literal["prose", "string", "shell"]
HostClass = Literal["paste", "file", "catcher"]
_SET_MEMORY = 64 << 20


class ScannerRulesError(Exception):
    """The scanner rules file cannot be used; the message names the file and the problem."""


class Example(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    file: str = Field(min_length=1)
    code: str


class Examples(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    positive: tuple[Example, ...] = Field(min_length=1)
    negative: tuple[Example, ...] = Field(min_length=1)


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=r"^OSS-SCAN-[0-9]{3}$")
    title: str = Field(min_length=1)
    category: str = Field(min_length=1)
    severity: Severity
    confidence: Confidence
    rationale: str = Field(min_length=1)
    patterns: tuple[str, ...] = ()
    scopes: tuple[Scope, ...] = ()
    examples: Examples

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in patterns:
            try:
                re2.compile(pattern)
            except re2.error as exc:
                raise ValueError(f"pattern {pattern!r} does not compile in RE2: {exc}") from exc
        return patterns


class Hosts(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    paste: tuple[str, ...]
    file: tuple[str, ...]
    catcher: tuple[str, ...]


class Allowlist(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    domains: tuple[str, ...]


class RulesDocument(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    schema_: Literal[1] = Field(alias="schema")
    allowlist: Allowlist
    hosts: Hosts
    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class TextRules:
    """The text rules of one scope compiled into one RE2 set (one pass over the text)."""

    rules: tuple[Rule, ...]
    patterns: tuple[re2._Regexp, ...]
    owner: tuple[int, ...]  # pattern index -> rule index
    matcher: re2.Set | None

    def matches(self, text: str) -> list[tuple[Rule, int, int]]:
        """(rule, start, end) of the first match of each firing pattern, in text order."""
        if self.matcher is None:
            return []
        found = []
        for index in self.matcher.Match(text) or ():
            match = self.patterns[index].search(text)
            if match is not None:
                found.append((self.rules[self.owner[index]], match.start(), match.end()))
        return sorted(found, key=lambda item: item[1])


def _text_rules(rules: tuple[Rule, ...], scope: Scope) -> TextRules:
    chosen = tuple(rule for rule in rules if scope in rule.scopes)
    options = re2.Options()
    options.max_mem = _SET_MEMORY
    matcher = re2.Set.SearchSet(options)
    patterns, owner = [], []
    for rule_index, rule in enumerate(chosen):
        for pattern in rule.patterns:
            matcher.Add(pattern)
            patterns.append(re2.compile(pattern))
            owner.append(rule_index)
    if not patterns:
        return TextRules(chosen, (), (), None)
    matcher.Compile()
    return TextRules(chosen, tuple(patterns), tuple(owner), matcher)


@dataclass(frozen=True)
class RuleBook:
    path: Path
    rules: dict[str, Rule]
    allowed_domains: frozenset[str]
    hosts: dict[HostClass, tuple[str, ...]]
    text: dict[Scope, TextRules]

    def rule(self, rule_id: str) -> Rule:
        return self.rules[rule_id]


def load_rulebook(path: Path) -> RuleBook:
    """The rules file at `path`, validated and compiled, or `ScannerRulesError`."""
    try:
        document = RulesDocument.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise ScannerRulesError(f"SCANNER_RULES_PATH: cannot read {path}: {exc}") from exc
    except (ValueError, ValidationError) as exc:
        raise ScannerRulesError(f"SCANNER_RULES_PATH: {path} is invalid: {exc}") from exc
    ids = [rule.id for rule in document.rules]
    duplicates = sorted({rule_id for rule_id in ids if ids.count(rule_id) > 1})
    if duplicates:
        raise ScannerRulesError(f"SCANNER_RULES_PATH: {path}: duplicate rule ids {duplicates}")
    return RuleBook(
        path=path,
        rules={rule.id: rule for rule in document.rules},
        allowed_domains=frozenset(domain.lower() for domain in document.allowlist.domains),
        hosts={
            "paste": document.hosts.paste,
            "file": document.hosts.file,
            "catcher": document.hosts.catcher,
        },
        text={scope: _text_rules(document.rules, scope) for scope in ("prose", "string", "shell")},
    )
