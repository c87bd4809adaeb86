"""The scanner: one unit's files, each to the analyzer for its language, into one report.

`Scanner.scan_unit(unit)` is pure apart from reading the unit's files. Every file is read with
a size cap (a file over it is reported, never skipped silently), checked for compiled
executables, and given to its analyzer by name or shebang; unit-level checks (credentials read
and sent out by the same unit) and the scoring follow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath

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

EXECUTABLE_MAGIC = (
    b"\x7fELF",
    b"\xfe\xed\xfa\xce",
    b"\xfe\xed\xfa\xcf",
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",
    b"MZ",
)
DEPENDENCY_DIRS = frozenset({"node_modules", "vendor", "third_party", "bower_components"})
CREDENTIAL_RULES = frozenset({"OSS-SCAN-030", "OSS-SCAN-031", "OSS-SCAN-071"})
SINK_RULES = frozenset({"OSS-SCAN-021", "OSS-SCAN-022", "OSS-SCAN-023"})
SOURCE_RULES = frozenset({"OSS-SCAN-021", "OSS-SCAN-022"})
RUN_RULES = frozenset(
    {"OSS-SCAN-040", "OSS-SCAN-050", "OSS-SCAN-052", "OSS-SCAN-053", "OSS-SCAN-055"}
)
Progress = Callable[[int], None]


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

    def scan_source(self, data: bytes, relative: str, out: FileFindings, docs: bool = True) -> None:
        """One file's bytes, by its language. `docs`: read markdown other than SKILL.md too (in
        skills, where any file may hold the instructions; a package's READMEs and changelogs
        are documentation for people, full of example commands, hosts and addresses)."""
        if (data.startswith(EXECUTABLE_MAGIC) and not data.startswith(b"MZ")) or (
            data.startswith(b"MZ") and b"PE\0\0" in data[:1024]
        ):
            out.add("OSS-SCAN-097", 1, f"compiled executable ({data[:4]!r})")
            return
        language = language_of(relative, data[:256])
        if language is None:
            return
        source = Source(data)
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

    def scan_unit(self, unit: Unit, progress: Progress | None = None) -> UnitReport:
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
        findings: list[Finding] = []
        errors: list[str] = []
        total = 0
        for index, path in enumerate(files):
            relative = path.relative_to(base).as_posix()
            out = FileFindings(context, relative, origin_of(relative))
            if index >= self.limits.max_unit_files:
                out.add("OSS-SCAN-098", 1, f"over {self.limits.max_unit_files} files: not scanned")
                findings.extend(out.findings)
                break
            try:
                if path.is_symlink():
                    continue
                size = path.stat().st_size
                total += size
                if size > self.limits.max_file_bytes:
                    out.add("OSS-SCAN-098", 1, f"{size} bytes, over {self.limits.max_file_bytes}")
                else:
                    self.scan_source(path.read_bytes(), relative, out, unit.kind != "package")
            except OSError as exc:
                out.add("OSS-SCAN-098", 1, f"unreadable: {exc.strerror or exc}")
                errors.append(f"{relative}: {exc}")
            findings.extend(out.findings)
            for rule_id, count in out.folded_counts().items():
                errors.append(f"{relative}: {rule_id} fired {count} times (minified; 3 reported)")
            if progress is not None:
                progress(size if "size" in locals() else 0)
        findings.extend(self._combined(findings, context))
        trust, verdict = score(findings)
        return UnitReport(
            unit=info.name,
            path=unit.label,
            kind=unit.kind,
            verdict=verdict,
            score=trust,
            findings=tuple(sorted(findings, key=lambda f: (f.file, f.line, f.rule_id))),
            files=len(files),
            bytes=total,
            sha256=pins.digest(root),
            errors=tuple(errors),
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
