"""A policy file is validated fail-closed; each error names the file, the line and a fix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from openclaw_secure_stack import resources
from openclaw_secure_stack.governance import PolicyError, load_policies
from openclaw_secure_stack.governance.policy import parse_policies

EXAMPLE = [{"call": {"tool": "read", "params": {"path": "a"}}, "expect": "block"}]


def policy(**overrides: Any) -> dict[str, Any]:
    base = {
        "id": "T-1",
        "title": "t",
        "effect": "deny",
        "rationale": "r",
        "match": {"tools": ["read"]},
        "examples": EXAMPLE,
    }
    return {**base, **overrides}


def document(*policies: dict[str, Any], **top: Any) -> str:
    return json.dumps({"schema": 1, "policies": list(policies), **top}, indent=2)


def test_the_shipped_policy_loads() -> None:
    """The default policy file is valid and every id is unique."""
    policies = load_policies(resources.DEFAULT_POLICY)
    ids = [p.id for p in policies.policies]
    assert len(ids) == len(set(ids)) > 10


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{\n  "schema": 1,\n  "policies": [,]\n}', "p.json:3: invalid JSON"),
        (json.dumps({"schema": 2, "policies": []}), 'Set "schema": 1'),
        (document(), "policies: missing or empty"),
        (document(policy(effect="permit")), "effect: is 'permit'. Use one of deny"),
        (document(policy(rationale="")), "rationale: missing"),
        (document(policy(match={})), "match: missing or empty"),
        (document(policy(match={"tool": ["x"]})), "unknown ['tool']"),
        (document(policy(match={"paths": {"in": ["@nope"]}})), "not defined"),
        (document(policy(match={"paths": {"in": ["$nowhere/x"]}})), "names no known place"),
        (document(policy(match={"paths": ["/etc"]})), "exactly one of in / not_in"),
        (document(policy(match={"hosts": {"in": ["https://x.example"]}})), "not a lower-case host"),
        (document(policy(match={"hosts": {"in": ["X.example"]}})), "not a lower-case host"),
        (document(policy(match={"flow": ["tainted"]})), "Use untrusted_content, secret_read"),
        (document(policy(match={"rate": {"scope": "ip", "max": 1, "window_seconds": 1}})), "scope"),
        (
            document(policy(match={"rate": {"scope": "session", "max": 0, "window_seconds": 1}})),
            "rate.max",
        ),
        (document(policy(match={"caller": {"owner": "yes"}})), "owner: is not a boolean"),
        (
            document(policy(effect="allow", match={"flow": ["secret_read"]})),
            "cannot allow anything",
        ),
        (document(policy(examples=[])), "examples: missing"),
        (document(policy(examples=[{**EXAMPLE[0], "expect": "allow"}])), "none expects block"),
        (document(policy(examples=[{**EXAMPLE[0], "expect": "deny"}])), "expect: is 'deny'"),
        (document(policy(), policy()), "T-1 id: already used on line 5"),
    ],
)
def test_errors_name_file_line_and_fix(text: str, message: str) -> None:
    """Each kind of mistake gets its own message."""
    with pytest.raises(PolicyError, match=r"^p\.json") as error:
        parse_policies(text, "p.json")
    assert message in str(error.value)


def test_the_error_points_at_the_policy_line() -> None:
    """The line named is where the offending policy's id is."""
    text = document(policy(), policy(id="T-2", effect="nope"))
    with pytest.raises(PolicyError) as error:
        parse_policies(text, "p.json")
    line = text.splitlines().index('      "id": "T-2",') + 1
    assert str(error.value).startswith(f"p.json:{line}: T-2 effect")


def test_lists_expand_into_conditions() -> None:
    """`@name` stands for the entries of `lists.name`."""
    text = document(
        policy(match={"commands": {"in": ["@tools", "extra"]}}), lists={"tools": ["a", "b"]}
    )
    (parsed,) = parse_policies(text, "p.json").policies
    assert parsed.commands is not None and parsed.commands.patterns == ("a", "b", "extra")


def test_unreadable_file(tmp_path: Path) -> None:
    """A missing file is a PolicyError, not a crash."""
    with pytest.raises(PolicyError, match="cannot read"):
        load_policies(tmp_path / "missing.json")
