"""What the person on the phone gets for each outcome of the relayed request."""

from __future__ import annotations

import json

import pytest

from openclaw_secure_stack.proxy.testing import chat_completion
from openclaw_secure_stack.webhooks.relay import answer_text

OK = json.dumps(chat_completion("the answer")).encode()


def scan(rule: str, action: str) -> dict[str, object]:
    return {"stage": "scan_response", "rule": rule, "severity": "high", "action": action}


def test_the_agents_text() -> None:
    assert answer_text(200, OK, []) == "the answer"


def test_request_findings_do_not_change_the_answer() -> None:
    sanitized = {"stage": "sanitize", "rule": "OSS-001", "action": "strip"}
    assert answer_text(200, OK, [sanitized]) == "the answer"


def test_a_flagged_answer_is_sent_marked() -> None:
    text = answer_text(200, OK, [scan("OSS-IND-007", "flag")])
    assert text == "the answer\n\n[flagged by OpenClaw Secure Stack: OSS-IND-007]"


@pytest.mark.parametrize("action", ["strip", "reject"])
def test_an_answer_the_scan_would_strip_or_reject_is_withheld(action: str) -> None:
    text = answer_text(200, OK, [scan("OSS-IND-001", action), scan("OSS-IND-009", "flag")])
    assert text == "The agent's answer was withheld: it matched OSS-IND-001, OSS-IND-009."


def test_a_refused_message() -> None:
    body = {"error": {"code": "prompt_injection", "message": "x", "rules": ["OSS-003"]}}
    text = answer_text(400, json.dumps(body).encode(), [])
    assert text == "Your message was not passed to the agent: it matched OSS-003."


@pytest.mark.parametrize(
    ("status", "content", "expected"),
    [
        (504, b'{"error": {"code": "upstream_timeout", "message": "slow"}}', "upstream_timeout"),
        (502, b"<html>bad gateway</html>", "502"),
        (500, b'{"error": "flat"}', "500"),
    ],
)
def test_an_error_names_its_code(status: int, content: bytes, expected: str) -> None:
    assert answer_text(status, content, []) == f"The agent could not answer ({expected})."


@pytest.mark.parametrize("content", [b"{}", b'{"choices": []}', b'{"choices": [{"message": {}}]}'])
def test_no_text_in_the_answer(content: bytes) -> None:
    assert answer_text(200, content, []) == "The agent gave no text answer."
