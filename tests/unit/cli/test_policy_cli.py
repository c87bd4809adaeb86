"""`policy check` and `policy test`: exit codes and messages."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from openclaw_secure_stack import resources
from openclaw_secure_stack.cli.main import app


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["policy", *args])
    return result.exit_code, result.output


def test_check_accepts_the_default_policy() -> None:
    """The shipped policy is valid."""
    code, out = invoke("check", str(resources.DEFAULT_POLICY))
    assert code == 0 and "valid" in out


def test_check_names_file_line_and_fix(tmp_path: Path) -> None:
    """A broken file exits 2 with file:line and the fix."""
    path = tmp_path / "p.json"
    path.write_text(
        '{\n  "schema": 1,\n  "policies": [\n    {"id": "X", "effect": "maybe"}\n  ]\n}'
    )
    code, out = invoke("check", str(path))
    assert code == 2
    assert f"{path}:4: X effect: is 'maybe'. Use one of deny, require_approval, allow." in out


def test_test_runs_the_default_examples() -> None:
    """`policy test` with no file tests the shipped policy and passes."""
    code, out = invoke("test")
    assert code == 0 and "examples pass" in out


def test_test_fails_on_a_wrong_example(tmp_path: Path) -> None:
    """A failing example is printed and the exit code is 1."""
    path = tmp_path / "p.json"
    path.write_text(
        json.dumps(
            {
                "schema": 1,
                "policies": [
                    {
                        "id": "T",
                        "title": "t",
                        "rationale": "r",
                        "effect": "deny",
                        "match": {"tools": ["read"]},
                        "examples": [
                            {"call": {"tool": "read", "params": {"path": "a"}}, "expect": "block"},
                            {"call": {"tool": "write", "params": {"path": "a"}}, "expect": "allow"},
                        ],
                    }
                ],
            }
        )
    )
    code, out = invoke("test", str(path))
    assert code == 1
    assert "FAIL T example #2" in out and "1/2 examples pass" in out
