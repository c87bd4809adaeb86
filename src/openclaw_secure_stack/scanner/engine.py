"""The scanner: one unit's files, each to the analyzer for its language, into one report.

`Scanner.scan_unit(unit)` is pure apart from reading the unit's files. Every file is read with
a size cap (a file over it is reported, never skipped silently), checked for compiled
executables, and given to its analyzer by name or shebang; unit-level checks (credentials read
and sent out by the same unit) and the scoring follow.
"""

from __future__ import annotations

import hashlib
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import re2

from openclaw_secure_stack.detect import Detector
from openclaw_secure_stack.scanner import (
    declared,
    javascript,
    markdown,
    package_json,
    pins,
    python,
    shell,
)
from openclaw_secure_stack.scanner.findings import FileFindings, UnitContext
from openclaw_secure_stack.scanner.model import Finding, Origin, UnitReport
from openclaw_secure_stack.scanner.rules import RuleBook
from openclaw_secure_stack.scanner.scoring import score
from openclaw_secure_stack.scanner.source import Source
from openclaw_secure_stack.scanner.units import SKILL_FILE, Unit

if TYPE_CHECKING:
    from openclaw_secure_stack.scanner.pool import ScannerSpec, ScanPool

EXECUTABLE_MAGIC = (
    b"\x7fELF",
    b"\xfe\xed\xfa\xce",
    b"\xfe\xed\xfa\xcf",
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",
    b"MZ",
)
ARCHIVE_MAGIC = (
    b"PK\x03\x04",
    b"\x1f\x8b",
    b"7z\xbc\xaf\x27\x1c",
    b"Rar!\x1a\x07",
    b"\xfd7zXZ\x00",
)
# Trojan Source: bidi embeddings, overrides and isolates.
BIDI = re2.compile("[\u202a-\u202e\u2066-\u2069]")
CODE_LANGUAGES = frozenset({"javascript", "typescript", "tsx", "python", "shell"})
DEPENDENCY_DIRS = frozenset({"node_modules", "vendor", "third_party", "bower_components"})
CREDENTIAL_RULES = frozenset({"OSS-SCAN-030", "OSS-SCAN-031", "OSS-SCAN-033", "OSS-SCAN-071"})
SINK_RULES = frozenset({"OSS-SCAN-021", "OSS-SCAN-022", "OSS-SCAN-023"})
SOURCE_RULES = frozenset({"OSS-SCAN-021", "OSS-SCAN-022"})
RUN_RULES = frozenset(
    {"OSS-SCAN-040", "OSS-SCAN-050", "OSS-SCAN-052", "OSS-SCAN-053", "OSS-SCAN-055"}
)


@dataclass(frozen=True)
class Scanned:
    """What scanning one file gave: findings, notes, bytes read, its line of the pin listing."""

    findings: list[Finding]
    notes: list[str]
    size: int
    listing: str


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int = 16 << 20
    max_unit_files: int = 50_000


def origin_of(relative: str) -> Origin:
    return "dependency" if DEPENDENCY_DIRS & set(PurePosixPath(relative).parts[:-1]) else "own"


def language_of(relative: str, head: bytes) -> str | None:
    name = PurePosixPath(relative).name.lower()
    suffix = PurePosixPath(name).suffix
    if name == "package.json":
        return "package.json"
    if name.endswith(".d.ts") or name.endswith((".d.mts", ".d.cts")):
        return None  # type declarations: no code runs
    if suffix in javascript.EXTENSIONS:
        return javascript.EXTENSIONS[suffix]
    if suffix in shell.EXTENSIONS:
        return "shell"
    if suffix == ".py":
        return "python"
    if suffix in (".md", ".markdown", ".mdx"):
        return "markdown"
    if suffix in (".txt", ".rst"):
        return "prose"
    if suffix in (".ps1", ".bat", ".cmd"):
        return "script"
    if head.startswith(b"#!"):
        first = head.split(b"\n", 1)[0]
        if b"node" in first or b"deno" in first or b"bun" in first:
            return "javascript"
        if b"python" in first:
            return "python"
        if first.rstrip().endswith((b"sh", b"bash", b"zsh")):
            return "shell"
    return None


class Scanner:
    def __init__(
        self,
        book: RuleBook,
        detector: Detector | None = None,
        limits: Limits | None = None,
        allowed_domains: frozenset[str] = frozenset(),
    ) -> None:
        self.book = book
        self.detector = detector
        self.limits = limits or Limits()
        self.allowed_domains = allowed_domains
        # How worker processes rebuild this scanner (see `pool`); None: this process only.
        self.spec: ScannerSpec | None = None

    def scan_source(self, data: bytes, relative: str, out: FileFindings, docs: bool = True) -> None:
        """One file's bytes, by its language. `docs`: read markdown other than SKILL.md too (in
        skills, where any file may hold the instructions; a package's READMEs and changelogs
        are documentation for people, full of example commands, hosts and addresses)."""
        if (data.startswith(EXECUTABLE_MAGIC) and not data.startswith(b"MZ")) or (
            data.startswith(b"MZ") and b"PE\0\0" in data[:1024]
        ):
            out.add("OSS-SCAN-097", 1, f"compiled executable ({data[:4]!r})")
            return
        if data.startswith(ARCHIVE_MAGIC):
            out.add("OSS-SCAN-093", 1, f"archive ({data[:4]!r}): its contents are not scanned")
            return
        language = language_of(relative, data[:256])
        if language is None:
            return
        source = Source(data)
        if language in CODE_LANGUAGES and not source.ascii:
            bidi = BIDI.search(source.text)
            if bidi is not None:
                line = source.text.count("\n", 0, bidi.start()) + 1
                out.add("OSS-SCAN-082", line, f"U+{ord(bidi.group(0)):04X} in code")
        if language == "package.json":
            package_json.analyze(source, out)
        elif language in javascript.GRAMMARS:
            out.minified = source.minified
            if out.minified:
                out.add("OSS-SCAN-096", 1, f"longest line {source.longest_line} bytes")
            javascript.analyze(source, language, out)
        elif language == "shell":
            shell.analyze(data, out)
        elif language == "python":
            python.analyze(source, out)
        elif language == "markdown":
            if docs or PurePosixPath(relative).name.lower() == SKILL_FILE.lower():
                markdown.analyze(source, out, self.detector)
        elif language == "prose":
            out.check_text("prose", source.text, 1)
        else:
            out.check_text("shell", source.text, 1)

    def scan_file(self, path: Path, relative: str, context: UnitContext, docs: bool) -> Scanned:
        """One file of a unit: its findings, notes, size and its line of the pin listing."""
        out = FileFindings(context, relative, origin_of(relative))
        notes: list[str] = []
        try:
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                target = str(path.readlink())
                # A link is not followed, but where it points is read like a command would be.
                out.check_text("shell", target, 1)
                return Scanned(
                    out.findings, [], 0, pins.line(relative, info.st_mode, "link:" + target)
                )
            if info.st_size > self.limits.max_file_bytes:
                out.add(
                    "OSS-SCAN-098", 1, f"{info.st_size} bytes, over {self.limits.max_file_bytes}"
                )
                content = pins.line(relative, info.st_mode, "unread:" + str(info.st_size))
            else:
                data = path.read_bytes()
                content = pins.line(relative, info.st_mode, hashlib.sha256(data).hexdigest())
                self.scan_source(data, relative, out, docs)
        except OSError as exc:
            out.add("OSS-SCAN-098", 1, f"unreadable: {exc.strerror or exc}")
            return Scanned(out.findings, [f"{relative}: {exc}"], 0, "")
        for rule_id, count in out.folded_counts().items():
            notes.append(f"{relative}: {rule_id} fired {count} times (minified; 3 reported)")
        return Scanned(out.findings, notes, info.st_size, content)

    def scan_unit(self, unit: Unit, pool: ScanPool | None = None) -> UnitReport:
        if unit.refused is not None:
            return self._refused(unit, unit.refused)
        root = unit.root
        files = pins.unit_files(root)
        base = root if root.is_dir() else root.parent
        info = (
            declared.skill(root, root.name)
            if unit.kind == "skill"
            else declared.package(root, root.name)
            if unit.kind == "package"
            else declared.Declared(root.name, frozenset())
        )
        context = UnitContext(self.book, info.domains, self.allowed_domains)
        docs = unit.kind != "package"
        capped = files[: self.limits.max_unit_files]
        jobs = [(path, path.relative_to(base).as_posix()) for path in capped]
        if pool is not None and len(jobs) > 1:
            results = pool.scan(jobs, info.domains, docs)
        else:
            results = [self.scan_file(path, relative, context, docs) for path, relative in jobs]
        findings = [finding for result in results for finding in result.findings]
        errors = [note for result in results for note in result.notes]
        if len(files) > len(capped):
            over = FileFindings(context, files[len(capped)].relative_to(base).as_posix())
            over.add("OSS-SCAN-098", 1, f"over {self.limits.max_unit_files} files: not scanned")
            findings.extend(over.findings)
        findings.extend(self._combined(findings, context))
        trust, verdict = score(findings)
        digest = (
            pins.listing_digest([r.listing for r in results if r.listing])
            if len(files) == len(capped)
            else pins.digest(root)
        )
        return UnitReport(
            unit=info.name,
            path=unit.label,
            kind=unit.kind,
            verdict=verdict,
            score=trust,
            findings=tuple(sorted(findings, key=lambda f: (f.file, f.line, f.rule_id))),
            files=len(files),
            bytes=sum(result.size for result in results),
            sha256=digest,
            errors=tuple(sorted(errors)),
        )

    def _refused(self, unit: Unit, reason: str) -> UnitReport:
        """An archive that could not be unpacked safely: not clean, never skipped."""
        out = FileFindings(UnitContext(self.book), unit.root.name)
        out.add("OSS-SCAN-098", 1, f"archive refused: {reason}")
        trust, verdict = score(out.findings)
        return UnitReport(
            unit=unit.root.name,
            path=unit.label,
            kind="file",
            verdict=verdict,
            score=trust,
            findings=tuple(out.findings),
            files=1,
            bytes=unit.root.stat().st_size,
            sha256=pins.digest(unit.root),
            errors=(reason,),
        )

    def _combined(self, findings: list[Finding], context: UnitContext) -> list[Finding]:
        """Behaviours that are worse together, in the same unit's own code: credentials read and
        a place to send them (exfiltration); an unreviewed host and an instruction to run,
        unpack or persist (the "Prerequisites" pattern)."""
        combined = []
        for rule_id, first, second in (
            ("OSS-SCAN-070", CREDENTIAL_RULES, SINK_RULES),
            ("OSS-SCAN-056", RUN_RULES, SOURCE_RULES),
        ):
            this = [f for f in findings if f.rule_id in first and f.origin == "own"]
            that = [f for f in findings if f.rule_id in second and f.origin == "own"]
            if this and that:
                out = FileFindings(context, this[0].file)
                out.add(
                    rule_id,
                    this[0].line,
                    f"{this[0].message} and {that[0].message} ({that[0].file}:{that[0].line})",
                )
                combined.extend(out.findings)
        return combined
