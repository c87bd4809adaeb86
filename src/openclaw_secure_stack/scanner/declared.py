"""What a unit declares about itself: its name and the hosts it says it talks to.

A skill declares hosts in its SKILL.md front matter (`homepage`, `metadata.openclaw.homepage`,
and our `domains:` list); a package in `package.json` (`homepage`, `repository`, `bugs`).
Network findings for a declared host are reported but not scored: a weather skill that calls its
weather API is doing what it says.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import re2

from openclaw_secure_stack.scanner.markdown import front_matter_lines

HOST = re2.compile(
    r"(?i)^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$"
)
URL = re2.compile(r"(?i)https?://[^\s'\"<>,\]}]+")
MAX_HEAD = 64 * 1024


@dataclass(frozen=True)
class Declared:
    name: str
    domains: frozenset[str]


def _host(value: str) -> str | None:
    value = value.strip().strip("\"'")
    if "://" in value:
        try:
            value = urlsplit(value).hostname or ""
        except ValueError:
            return None
    value = value.lower().rstrip(".")
    return value if HOST.fullmatch(value) else None


def skill(root: Path, fallback: str) -> Declared:
    """The front matter of `root/SKILL.md`: its name, and the hosts named by `homepage` and
    `domains` (a YAML list, inline `[a, b]` or one per `- ` line)."""
    try:
        with (root / "SKILL.md").open(encoding="utf-8", errors="replace") as handle:
            text = handle.read(MAX_HEAD)
    except OSError:
        return Declared(fallback, frozenset())
    lines = text.split("\n")[: front_matter_lines(text)][1:-1]
    name, domains, in_domains = fallback, set(), False
    for line in lines:
        key, _, value = line.partition(":")
        stripped = key.strip()
        if in_domains and line.lstrip().startswith("- "):
            host = _host(line.lstrip()[2:])
            if host:
                domains.add(host)
            continue
        in_domains = False
        if stripped == "name" and value.strip() and not line.startswith(" "):
            name = value.strip().strip("\"'")
        elif stripped == "domains":
            in_domains = not value.strip()
            for item in value.strip().strip("[]").split(","):
                host = _host(item)
                if host:
                    domains.add(host)
        elif "homepage" in stripped:
            for url in URL.findall(line):
                host = _host(url)
                if host:
                    domains.add(host)
    return Declared(name, frozenset(domains))


def package(root: Path, fallback: str) -> Declared:
    try:
        document = json.loads((root / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return Declared(fallback, frozenset())
    if not isinstance(document, dict):
        return Declared(fallback, frozenset())
    name = document.get("name") if isinstance(document.get("name"), str) else fallback
    domains = set()
    for key in ("homepage", "repository", "bugs"):
        value = document.get(key)
        if isinstance(value, dict):
            value = value.get("url")
        if isinstance(value, str):
            host = _host(value.removeprefix("git+"))
            if host:
                domains.add(host)
    return Declared(str(name), frozenset(domains))
