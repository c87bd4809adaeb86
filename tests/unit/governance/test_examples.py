"""Every policy's examples hold against the shipped policy set, and the runner can fail."""

from __future__ import annotations

import json

import pytest

from openclaw_secure_stack import resources
from openclaw_secure_stack.governance import PolicyError, ToolTable, load_policies
from openclaw_secure_stack.governance.examples import check_examples, run_examples
from openclaw_secure_stack.governance.policy import parse_policies


def test_the_shipped_examples_all_hold(table: ToolTable) -> None:
    """`policy test` on the default policy finds no failure."""
    policies = load_policies(resources.DEFAULT_POLICY)
    assert sum(len(p.examples) for p in policies.policies) > 50
    assert run_examples(policies, table) == []


def single(examples: list[dict[str, object]]) -> str:
    return json.dumps(
        {
            "schema": 1,
            "policies": [
                {
                    "id": "T-1",
                    "title": "t",
                    "rationale": "r",
                    "effect": "deny",
                    "match": {"tools": ["read"]},
                    "examples": examples,
                }
            ],
        }
    )


def test_a_wrong_expectation_is_reported(table: ToolTable) -> None:
    """An example decided otherwise than it says fails, naming policy, example and verdicts."""
    policies = parse_policies(
        single(
            [
                {"call": {"tool": "read", "params": {"path": "a"}}, "expect": "block"},
                {"call": {"tool": "ls", "params": {}}, "expect": "allow"},
            ]
        ),
        "p.json",
    )
    (failure,) = run_examples(policies, table)
    assert str(failure).startswith("T-1 example #2: ls {} expected allow, got block")


def test_a_negative_example_must_not_name_the_policy(table: ToolTable) -> None:
    """An example expecting another verdict may not be decided by this policy."""
    text = json.dumps(
        {
            "schema": 1,
            "policies": [
                {
                    "id": "A",
                    "title": "t",
                    "rationale": "r",
                    "effect": "require_approval",
                    "match": {"tools": ["read"]},
                    "examples": [
                        {
                            "call": {"tool": "read", "params": {"path": "a"}},
                            "expect": "require_approval",
                        }
                    ],
                },
                {
                    "id": "B",
                    "title": "t",
                    "rationale": "r",
                    "effect": "deny",
                    "match": {"tools": ["read"]},
                    "examples": [
                        {"call": {"tool": "read", "params": {"path": "a"}}, "expect": "block"}
                    ],
                },
            ],
        }
    )
    failures = [str(f) for f in run_examples(parse_policies(text, "p.json"), table)]
    assert failures == ["A example #1: read {'path': 'a'} expected require_approval, got block (B)"]


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"who": 1}, "unknown keys"),
        ({"caller": {"name": "x"}}, "context"),
        ({"recent": -1}, "recent"),
    ],
)
def test_a_bad_example_context_is_a_policy_error(context: object, message: str) -> None:
    """`policy check` refuses example contexts it cannot build."""
    policies = parse_policies(
        single([{"call": {"tool": "read"}, "context": context, "expect": "block"}]), "p.json"
    )
    with pytest.raises(PolicyError, match=message):
        check_examples(policies)
