"""Without a valid client token nothing reaches OpenClaw or the model."""

from __future__ import annotations

import uuid

import pytest
from harness import StackHandle


@pytest.mark.parametrize(
    ("token", "status"),
    [(None, 401), ("wrong-token", 403), ("gateway", 403)],
    ids=["no-token", "wrong-token", "gateway-token-as-client-token"],
)
def test_unauthenticated_chat_never_reaches_openclaw(
    stack: StackHandle, token: str | None, status: int
) -> None:
    """A refused request (401 without a token, 403 with a wrong one) leaves no trace anywhere."""
    refused_marker = "refused-" + uuid.uuid4().hex
    presented = stack.gateway_token if token == "gateway" else token

    refused = stack.chat(f"hello {refused_marker}", token=presented)
    refused_stream = stack.chat(f"hello {refused_marker}", token=presented, stream=True)

    assert refused.status == status, refused.body
    assert refused_stream.status == status, refused_stream.body
    assert "error" in refused.json()
    # Control: the same check does see a request that was let through.
    accepted_marker = "accepted-" + uuid.uuid4().hex
    assert stack.chat(f"hello {accepted_marker}").status == 200
    assert any(accepted_marker in request.text() for request in stack.llm.requests)
    assert stack.openclaw_traces(accepted_marker)
    assert not any(refused_marker in request.text() for request in stack.llm.requests)
    assert stack.openclaw_traces(refused_marker) == []
