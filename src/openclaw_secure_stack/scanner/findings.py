"""The per-file collector the analyzers report into, and the checks they share.

Analyzers find syntax (a call, a string literal, a pipeline) and hand text to the shared checks
here: text rules of a scope, URLs (classified by host), base64 payloads, sensitive names. Each
finding's severity, confidence and category come from the rules file, so an analyzer only names
the rule id, the line and what it saw.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import re2

from openclaw_secure_stack.scanner.model import Finding, Origin
from openclaw_secure_stack.scanner.rules import HostClass, RuleBook, Scope

URL = re2.compile(r"(?i)\b(?:https?|wss?|ftp)://[^\s'\"<>()\[\]{}`\\]+")
BASE64_RUN = re2.compile(r"[A-Za-z0-9+/]{24,}={0,2}")
# What a decoded payload or a hidden name must contain to matter.
PAYLOAD = re2.compile(
    r"(?i)(?:\b(?:curl|wget|bash|sh|zsh|powershell|nc|python3?|osascript|chmod)\b[^\n]{0,200}"
    r"(?:\||https?://|/dev/tcp|-e\s)|https?://|/dev/tcp/|\.ssh/|\beval\b|child_process|"
    r"\bexec(?:sync)?\b|/bin/(?:ba)?sh)"
)
# Names whose only reason to be built from pieces or escaped is to hide a dangerous call.
SENSITIVE_NAMES = frozenset(
    {
        "eval",
        "function",
        "exec",
        "execsync",
        "execfile",
        "execfilesync",
        "spawn",
        "spawnsync",
        "child_process",
        "node:child_process",
        "require",
        "system",
        "popen",
        "__import__",
        "compile",
        "subprocess",
        "binding",
        "dlopen",
        "/bin/sh",
        "/bin/bash",
        "bash",
        "sh",
        "curl",
        "wget",
    }
)
MAX_DECODED = 4096
Locate = Callable[[int], "int | None"]
MAX_FINDINGS_PER_RULE_MINIFIED = 3


def host_matches(host: str, path: str, entry: str) -> bool:
    """`entry` is a domain (matching itself and its subdomains) or a domain/path prefix."""
    domain, _, prefix = entry.partition("/")
    if host != domain and not host.endswith("." + domain):
        return False
    return not prefix or path.lstrip("/").startswith(prefix)


@dataclass
class UnitContext:
    """What every file of one unit shares: the rules and the unit's declared hosts."""

    book: RuleBook
    declared_domains: frozenset[str] = frozenset()
    extra_allowed: frozenset[str] = frozenset()

    def allowed(self, host: str) -> bool:
        return any(
            host == domain or host.endswith("." + domain)
            for domain in (self.book.allowed_domains | self.extra_allowed)
        )

    def declared(self, host: str) -> bool:
        return any(host == d or host.endswith("." + d) for d in self.declared_domains)


@dataclass
class FileFindings:
    """Findings of one file; analyzers call the `check_*` helpers and `add`."""

    unit: UnitContext
    file: str
    origin: Origin = "own"
    minified: bool = False
    findings: list[Finding] = field(default_factory=list)
    _counts: dict[str, int] = field(default_factory=dict)
    _decoding: bool = False

    def add(self, rule_id: str, line: int, message: str, *, declared: bool = False) -> None:
        count = self._counts.get(rule_id, 0) + 1
        self._counts[rule_id] = count
        if self.minified and count > MAX_FINDINGS_PER_RULE_MINIFIED:
            return
        rule = self.unit.book.rule(rule_id)
        self.findings.append(
            Finding(
                rule_id=rule_id,
                file=self.file,
                line=line,
                message=message[:300],
                severity=rule.severity,
                confidence=rule.confidence,
                category=rule.category,
                origin=self.origin,
                declared=declared,
            )
        )

    def folded_counts(self) -> dict[str, int]:
        """Rules that fired more often than reported (minified files), with their totals."""
        return {
            rule_id: count
            for rule_id, count in self._counts.items()
            if count > MAX_FINDINGS_PER_RULE_MINIFIED and self.minified
        }

    def check_text(self, scope: Scope, text: str, line: int, where: Locate | None = None) -> None:
        """Text rules of `scope`, URLs and encoded payloads in `text`, which starts at `line`.

        `where` maps a character offset in `text` to its line, or to None where a match does not
        count (outside string literals, say); by default every offset counts.
        """
        locate = where or (lambda offset: line + text.count("\n", 0, offset))
        for rule, start, end in self.unit.book.text[scope].matches(text):
            at = locate(start)
            if at is not None:
                self.add(rule.id, at, f"{rule.title}: {text[start:end].strip()!r}")
        for match in URL.finditer(text):
            at = locate(match.start())
            if at is not None:
                self.check_url(match.group(0).rstrip(".,;:!?"), at)
        if scope != "prose":
            for match in BASE64_RUN.finditer(text):
                at = locate(match.start())
                decoded = decode_base64(match.group(0)) if at is not None else None
                if at is not None and decoded is not None and PAYLOAD.search(decoded):
                    self.add("OSS-SCAN-012", at, f"base64 decodes to {decoded[:120]!r}")
                    if not self._decoding:
                        # What the payload does (its host, its pipeline) is reported too.
                        self._decoding = True
                        try:
                            self.check_text("shell", decoded, at, _fixed(at))
                        finally:
                            self._decoding = False

    def check_url(self, url: str, line: int) -> None:
        try:
            parts = urlsplit(url)
            host = (parts.hostname or "").lower().rstrip(".")
        except ValueError:
            return
        if not host:
            return
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            address = None
        if address is not None:
            if not address.is_loopback and not address.is_unspecified:
                self.add("OSS-SCAN-021", line, f"URL to a raw IP address: {url}")
            return
        cls = self._host_class(host, parts.path)
        if cls == "catcher":
            self.add("OSS-SCAN-023", line, f"webhook catcher or tunnel: {url}")
        elif cls is not None:
            self.add("OSS-SCAN-022", line, f"{cls} host: {url}")
        elif not self.unit.allowed(host):
            declared = self.unit.declared(host)
            self.add(
                "OSS-SCAN-020",
                line,
                f"host {host}" + (" (declared by the unit)" if declared else ""),
                declared=declared,
            )

    def _host_class(self, host: str, path: str) -> HostClass | None:
        for cls, entries in self.unit.book.hosts.items():
            if any(host_matches(host, path, entry) for entry in entries):
                return cls
        return None


def _fixed(line: int) -> Locate:
    """Every offset at one line: a decoded payload has no lines of its own in the file."""
    return lambda _offset: line


def decode_base64(text: str) -> str | None:
    """The printable text `text` decodes to, or None (not base64, binary, or too long)."""
    if len(text) > MAX_DECODED * 2:
        return None
    padded = text + "=" * (-len(text) % 4)
    try:
        raw = base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not decoded.isprintable() and not all(c.isprintable() or c in "\n\r\t" for c in decoded):
        return None
    return decoded
