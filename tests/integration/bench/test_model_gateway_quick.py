"""Smoke run of bench/model_gateway.py: the real gateway under load next to nginx and the floor,
and LiteLLM when BENCH_LITELLM names its environment (it is not a project dependency)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from bench import ingress, model_gateway

SMOKE = ingress.Load(
    warmup_s=1, saturated_s=1, rate_s=1, reps=1, saturated_conns=4, rate=50, rate_conns=1
)


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    try:
        ingress.find_tools(("wrk", "nginx"))
    except ingress.BenchError as exc:
        pytest.skip(str(exc))
    litellm = os.environ.get("BENCH_LITELLM")
    return model_gateway.run(SMOKE, litellm=Path(litellm) if litellm else None)


def test_the_fixture_is_a_real_openclaw_tool_turn() -> None:
    """The request measured is what the issue describes: OpenClaw's large system prompt, its
    tools and several tool results, with no path of the machine it was captured on."""
    text = model_gateway.FIXTURE.read_text()
    document = json.loads(text)
    messages = document["messages"]
    assert messages[0]["role"] == "system" and len(messages[0]["content"]) > 40_000
    assert len(document["tools"]) >= 10
    assert sum(message["role"] == "tool" for message in messages) >= 3
    assert document["stream"] is True
    assert "/tmp/" not in text and str(Path.home()) + "/" not in text


def test_a_reply_carrying_an_error_is_not_a_success() -> None:
    """The reply check fails a target that streams an error event instead of the reply."""
    error = b'data: {"error":{"message":"provider down"}}\n\ndata: [DONE]\n\n'
    with pytest.raises(ingress.BenchError, match="provider down"):
        model_gateway.streamed(error)
    text, calls = model_gateway.streamed(model_gateway.sse_reply())
    assert text.split() == model_gateway.REPLY_TEXT.split()
    assert calls == [model_gateway.REPLY_CALL]


@pytest.mark.slow
def test_every_call_through_the_gateway_succeeds(report: dict[str, Any]) -> None:
    """wrk's saturated and one-at-a-time runs through the gateway get only 2xx answers, and the
    comparison with direct is computed."""
    runs = report["runs"]["gateway"]
    assert runs["saturated"] and runs["paced"]
    assert all(run["errors"] == 0 and run["requests"] > 0 for run in runs["saturated"])
    assert all(run["errors"] == 0 and run["requests"] > 0 for run in runs["paced"])
    assert {"added_p50_ms", "added_p99_ms", "throughput_vs_direct"} <= set(
        report["comparisons"]["gateway"]
    )


@pytest.mark.slow
def test_the_gateway_audits_every_call_as_allowed(report: dict[str, Any]) -> None:
    """One `model_gateway.call` record per answered call, none an error: a gateway answering
    200 with an error event inside would show here."""
    audit = report["audit"]["gateway"]
    assert audit["answered"] > 1
    assert audit["complete"], audit


@pytest.mark.slow
def test_litellm_is_measured_beside_the_gateway(report: dict[str, Any]) -> None:
    if "litellm" not in report["runs"]:
        pytest.skip("BENCH_LITELLM is not set (see bench/README.md, 'Model gateway')")
    runs = report["runs"]["litellm"]
    assert all(run["errors"] == 0 and run["requests"] > 0 for run in runs["saturated"])
    assert report["comparisons"]["gateway"]["throughput_vs_litellm"] > 0
