"""The canonical hash an approval is bound to."""

from __future__ import annotations

import pytest

from openclaw_secure_stack.governance import NotCanonical, ToolCall, call_hash

BASE = ToolCall("exec", {"command": "ls -la", "timeoutSeconds": 10, "env": {"A": "1", "B": "2"}})


def test_spelling_does_not_change_the_hash() -> None:
    """Key order and number spelling (10 vs 10.0) give the same hash."""
    same = ToolCall(
        "exec", {"env": {"B": "2", "A": "1"}, "timeoutSeconds": 10.0, "command": "ls -la"}
    )
    assert call_hash(same, "s") == call_hash(BASE, "s")


@pytest.mark.parametrize(
    "changed",
    [
        ToolCall("exec", {**BASE.params, "command": "ls -la "}),
        ToolCall("exec", {**BASE.params, "timeoutSeconds": 11}),
        ToolCall("exec", {**BASE.params, "env": {"A": "1"}}),
        ToolCall("exec", {**BASE.params, "extra": None}),
        ToolCall("read", BASE.params),
    ],
)
def test_any_change_of_value_changes_the_hash(changed: ToolCall) -> None:
    """A different tool, parameter value, added or removed key is a different call."""
    assert call_hash(changed, "s") != call_hash(BASE, "s")


def test_the_session_is_part_of_the_hash() -> None:
    """An approval in one session does not cover the same call in another."""
    assert call_hash(BASE, "s1") != call_hash(BASE, "s2")


@pytest.mark.parametrize("params", [{"x": float("nan")}, {"x": 2**80}, {"x": object()}, {1: "a"}])
def test_parameters_without_canonical_form_are_refused(params: dict[object, object]) -> None:
    """NaN, integers beyond JSON's safe range, objects and non-string keys raise NotCanonical."""
    with pytest.raises(NotCanonical):
        call_hash(ToolCall("exec", params), "s")  # type: ignore[arg-type]
