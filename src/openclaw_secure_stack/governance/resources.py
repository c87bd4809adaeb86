"""Resources a call touches: paths resolved as the OS would, hosts matched on label boundaries.

Paths: `~` is the agent's home, a relative path is taken from the directory the tool runs in,
and `..` and symlinks are resolved (`Path.resolve`), so `workspace/link-to-ssh/id_rsa` is the
key it points at. Hosts: lower-cased, trailing dot dropped, IPv6 brackets removed; a pattern
`example.com` is that host only and `*.example.com` its subdomains only, so
`localhost.evil.com` is never `localhost`. Globs (`*.pem`) compile to RE2, never Python `re`.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import re2

MAX_NAME_CHARS = 4096


def resolve_path(raw: str, cwd: Path, home: Path) -> Path:
    """The absolute path `raw` names when used from `cwd` by a process whose home is `home`."""
    path = home / raw[2:] if raw == "~" or raw.startswith("~/") else cwd / raw
    # strict=False: a file about to be created resolves too; symlinks on the way are followed.
    return path.resolve(strict=False)


def glob_to_re2(glob: str) -> str:
    """An anchored RE2 pattern for a file-name glob: `*` and `?` never cross a `/`."""
    out = ["^"]
    for char in glob:
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        else:
            out.append(re2.escape(char))
    out.append("$")
    return "".join(out)


def normalise_host(raw: str) -> str | None:
    """A host as compared with policy patterns, or None if `raw` is not a plausible host."""
    host = raw.strip().lower().rstrip(".")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host or len(host) > 253:
        return None
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    labels = host.split(".")
    if _numeric(labels[-1]):
        return _whatwg_ipv4(labels)
    if all(label and all(c.isalnum() or c in "-_" for c in label) for label in labels):
        return host
    return None


def _numeric(label: str) -> bool:
    digits = label[2:] if label.startswith("0x") else label
    return (
        bool(label)
        and all(c in "0123456789abcdef" for c in digits)
        and (label.startswith("0x") or label.isdigit())
    )


def _whatwg_ipv4(labels: list[str]) -> str | None:
    """Hosts like `127.1`, `0x7f.0.0.1` or `2130706433` that URL parsers (and so OpenClaw's
    Node) read as IPv4 addresses, in dotted form; None if not a valid address."""
    if len(labels) > 4 or not all(_numeric(label) for label in labels):
        return None
    numbers = []
    for label in labels:
        if label.startswith("0x"):
            numbers.append(int(label[2:] or "0", 16))
        elif len(label) > 1 and label.startswith("0"):
            if any(c not in "01234567" for c in label):
                return None
            numbers.append(int(label, 8))
        else:
            numbers.append(int(label))
    *parts, last = numbers
    if any(part > 255 for part in parts) or last >= 256 ** (5 - len(numbers)):
        return None
    value = last
    for index, part in enumerate(parts):
        value += part * 256 ** (3 - index)
    return str(ipaddress.IPv4Address(value))


def host_matches(host: str, pattern: str) -> bool:
    """`pattern` is `name` (exactly that host) or `*.name` (a strict subdomain of it)."""
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
    return host == pattern


def url_host(url: str) -> str | None:
    """The host of an absolute URL (`scheme://host...`), or None."""
    if "://" not in url:
        return None
    try:
        parts = urlsplit(url.strip())
        hostname = parts.hostname
    except ValueError:
        return None
    return normalise_host(hostname) if hostname else None


def file_names(path: Path) -> tuple[str, ...]:
    """Every component of `path`, so a glob for `.ssh` matches any path through such a dir."""
    return tuple(part for part in PurePosixPath(path).parts if part != "/")
