"""`package.json`: install-time scripts (run through the shell analyzer) and dependencies that
come from URLs, git or local files instead of the registry."""

from __future__ import annotations

import json

from openclaw_secure_stack.scanner import shell
from openclaw_secure_stack.scanner.findings import FileFindings
from openclaw_secure_stack.scanner.source import Source

LIFECYCLE = ("preinstall", "install", "postinstall", "prepare", "preuninstall", "postuninstall")
DEPENDENCY_FIELDS = (
    "dependencies",
    "devDependencies",
    "optionalDependencies",
    "peerDependencies",
    "bundleDependencies",
)
REMOTE_PREFIXES = ("http://", "https://", "git+", "git://", "github:", "gitlab:", "bitbucket:")


def _line_of(text: str, key: str) -> int:
    index = text.find(f'"{key}"')
    return text.count("\n", 0, index) + 1 if index >= 0 else 1


def analyze(source: Source, out: FileFindings) -> None:
    try:
        document = json.loads(source.text)
    except (ValueError, RecursionError):
        out.add("OSS-SCAN-095", 1, "package.json is not valid JSON: scanned as text")
        out.check_text("shell", source.text, 1)
        return
    if not isinstance(document, dict):
        return
    scripts = document.get("scripts")
    if isinstance(scripts, dict):
        for name in LIFECYCLE:
            script = scripts.get(name)
            if isinstance(script, str):
                line = _line_of(source.text, name)
                out.add("OSS-SCAN-090", line, f"{name}: {script[:120]}")
                shell.analyze(script.encode("utf-8", "replace"), out, line - 1)
    for field in DEPENDENCY_FIELDS:
        dependencies = document.get(field)
        if not isinstance(dependencies, dict):
            continue
        for name, spec in dependencies.items():
            if not isinstance(spec, str):
                continue
            if spec.startswith(REMOTE_PREFIXES) or spec.startswith("file:"):
                line = _line_of(source.text, name)
                out.add("OSS-SCAN-091", line, f"{field}.{name} from {spec[:120]}")
                if "://" in spec:
                    out.check_url(spec.removeprefix("git+"), line)
