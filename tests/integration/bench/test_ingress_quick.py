"""Smoke run of bench/ingress.py: the real proxy under load next to nginx and Caddy."""

from __future__ import annotations

from typing import Any

import pytest
from bench import ingress

# Short runs; SSE events 50 ms apart so a buffering hop (first event after ~250 ms) stands far
# from an unbuffered one on a loaded machine.
SMOKE = ingress.Plan(
    warmup_s=1,
    saturated_s=1,
    rate_s=1,
    reps=1,
    saturated_conns=8,
    rate=200,
    rate_conns=8,
    sse_streams=2,
    sse_chunks=5,
    sse_delay_ms=50.0,
    proxy_workers=(1,),
)


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    try:
        ingress.find_tools()
    except ingress.BenchError as exc:
        pytest.skip(str(exc))
    return ingress.run(SMOKE, with_proxy=True)


@pytest.mark.slow
def test_every_request_through_the_proxy_succeeds(report: dict[str, Any]) -> None:
    """wrk's saturated and fixed-rate runs through the proxy get only 2xx answers."""
    runs = report["runs"]["proxy-w1"]
    assert runs["saturated"] and runs["paced"]
    assert all(run["errors"] == 0 and run["requests"] > 0 for run in runs["saturated"])
    assert all(run["errors"] == 0 and run["requests"] > 0 for run in runs["paced"])
    assert set(report["comparisons"]["proxy-w1"]) == {
        "throughput_vs_direct",
        "throughput_vs_caddy",
        "throughput_vs_floor",
        "added_p50_ms_at_rate",
        "added_p99_ms_at_rate",
    }


@pytest.mark.slow
def test_proxy_streams_sse_unbuffered(report: dict[str, Any]) -> None:
    """Each SSE event passes the proxy as it arrives, like direct and Caddy."""
    for target in ("direct", "caddy", "proxy-w1"):
        assert report["sse"][target]["unbuffered"], (target, report["sse"][target])


@pytest.mark.slow
def test_proxy_audits_every_answered_request(report: dict[str, Any]) -> None:
    """The audit log holds at least one record per request the proxy answered under load."""
    for name in ("proxy-w1", "proxy-sse"):
        audit = report["audit"][name]
        assert audit["requests_answered"] > 0
        assert audit["complete"], (name, audit)
