from __future__ import annotations

from pathlib import Path

import pytest

from openclaw_secure_stack import resources
from openclaw_secure_stack.governance import Context, ToolTable, load_tool_table


@pytest.fixture(scope="session")
def table() -> ToolTable:
    return load_tool_table(resources.GOVERNANCE_TOOLS)


@pytest.fixture
def context(tmp_path: Path) -> Context:
    """A real directory layout (so symlinks resolve) like the one `up` gives OpenClaw."""
    places = {
        "workspace": tmp_path / "workspace",
        "home": tmp_path / "home",
        "state": tmp_path / "state",
        "config": tmp_path / "openclaw.json",
    }
    for name in ("workspace", "home", "state"):
        places[name].mkdir()
    return Context(session="agent:main:s1", places={k: v.resolve() for k, v in places.items()})
