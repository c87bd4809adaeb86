"""Host anchoring, globs and path resolution."""

from __future__ import annotations

from pathlib import Path

import pytest

from openclaw_secure_stack.governance.resources import (
    glob_to_re2,
    host_matches,
    normalise_host,
    resolve_path,
    url_host,
)


@pytest.mark.parametrize(
    ("host", "pattern", "expected"),
    [
        ("localhost", "localhost", True),
        ("localhost.evil.com", "localhost", False),
        ("evil-localhost", "localhost", False),
        ("api.example.com", "*.example.com", True),
        ("example.com", "*.example.com", False),
        ("badexample.com", "*.example.com", False),
        ("example.com.evil.net", "*.example.com", False),
    ],
)
def test_hosts_match_on_label_boundaries(host: str, pattern: str, expected: bool) -> None:
    """`name` is that host only, `*.name` strict subdomains only."""
    assert host_matches(host, pattern) is expected


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://Example.COM./a", "example.com"),
        ("http://user:pw@evil.example:80@good.example/", "good.example"),
        ("http://[::1]:8080/", "::1"),
        ("http://127.1/", "127.0.0.1"),
        ("http://0x7f.0.0.1/", "127.0.0.1"),
        ("http://2130706433/", "127.0.0.1"),
        ("http://0177.0.0.1/", "127.0.0.1"),
        ("http://1.2.3.256/", None),
        ("example.com/path", None),
        ("http:///nohost", None),
    ],
)
def test_url_hosts(url: str, host: str | None) -> None:
    """The host a URL connects to, normalised; no host means None (so the call is opaque)."""
    assert url_host(url) == host


def test_normalise_host_rejects_junk() -> None:
    """Spaces, slashes and overlong names are not hosts."""
    assert normalise_host("a b") is None
    assert normalise_host("a/b") is None
    assert normalise_host("a" * 254) is None
    assert normalise_host("10.0.0.1") == "10.0.0.1"


def test_globs_do_not_cross_slashes_and_escape_regex() -> None:
    """`*` stays within a name; regex characters in a glob are literal."""
    import re2

    assert re2.search(glob_to_re2("*.pem"), "key.pem")
    assert not re2.search(glob_to_re2("*.pem"), "a/key.pem")
    assert not re2.search(glob_to_re2("a.b"), "axb")
    assert re2.search(glob_to_re2("id_rsa*"), "id_rsa.pub")


def test_resolve_follows_links_and_dotdot(tmp_path: Path) -> None:
    """`..` and symlinks resolve as the OS would; a file not yet there resolves too."""
    (tmp_path / "real").mkdir()
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "link").symlink_to(tmp_path / "real")
    root = tmp_path.resolve()
    assert resolve_path("link/new.txt", tmp_path / "ws", tmp_path) == root / "real" / "new.txt"
    assert resolve_path("../real/../x", tmp_path / "ws", tmp_path) == root / "x"
    assert resolve_path("~", tmp_path / "ws", tmp_path / "real") == root / "real"
