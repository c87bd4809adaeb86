"""The real proxy across restarts: each start is a record, a log cut between runs is not
resumed silently, a lost anchor stops start-up, and two workers keep one anchored chain."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from openclaw_secure_stack.audit.anchor import default_anchor_path
from openclaw_secure_stack.audit.log import chain_paths
from openclaw_secure_stack.audit.testing import run_cli
from openclaw_secure_stack.proxy.testing import (
    TEST_AUDIT_KEY,
    TEST_CLIENT_TOKENS,
    RecordingUpstream,
    proxy_environment,
    raw_exchange,
    raw_request,
    running_proxy,
)

ALICE = TEST_CLIENT_TOKENS["alice"]


def records(log: Path) -> list[dict]:
    return [
        json.loads(line) for file in chain_paths(log) for line in file.read_bytes().splitlines()
    ]


def verify(log: Path) -> tuple[int, dict]:
    result = run_cli(
        ["audit", "verify", "--format", "json"], log_path=log, key=TEST_AUDIT_KEY.encode()
    )
    return result.exit_code, json.loads(result.stdout)


def serve_some(upstream: RecordingUpstream, directory: Path, count: int, **env: str) -> None:
    with running_proxy(proxy_environment(upstream.url, directory, **env), directory) as port:
        for _ in range(count):
            assert raw_exchange(port, raw_request("/v1/models", token=ALICE)).status == 200


def test_each_start_is_recorded_and_the_chain_verifies(upstream, tmp_path):
    """Two runs: two audit.resumed records, the second continuing from the first run's head."""
    log = tmp_path / "audit.jsonl"
    serve_some(upstream, tmp_path, 2)
    head = records(log)[-1]
    serve_some(upstream, tmp_path, 2)
    resumed = [r for r in records(log) if r["event"] == "audit.resumed"]
    assert [r["details"]["state"] for r in resumed] == ["new", "ok"]
    assert (resumed[1]["seq"], resumed[1]["details"]["prev_seq"]) == (head["seq"] + 1, head["seq"])
    assert resumed[1]["details"]["anchor_seq"] == head["seq"]
    last = records(log)[-1]["seq"]
    code, report = verify(log)
    assert (code, report["last_seq"], report["anchor_seq"]) == (0, last, last)


@pytest.mark.parametrize("cut", [1, 4])
def test_log_cut_between_runs_is_not_resumed_silently(upstream, tmp_path, cut):
    """Records cut off while the proxy was down: the next start chains on from the anchor
    (state log_behind_anchor), so verify names the gap instead of a clean chain."""
    log = tmp_path / "audit.jsonl"
    serve_some(upstream, tmp_path, 3)
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join(lines[:-cut]))
    serve_some(upstream, tmp_path, 1)
    resumed = [r for r in records(log) if r["event"] == "audit.resumed"][-1]
    assert resumed["details"]["state"] == "log_behind_anchor"
    assert resumed["details"]["log_seq"] == len(lines) - cut
    code, report = verify(log)
    assert (code, report["break"]["reason"], report["break"]["line"]) == (
        1,
        "seq_gap",
        len(lines) - cut + 1,
    )


def test_lost_anchor_stops_start_up_until_re_anchored(upstream, tmp_path):
    """With the anchor deleted the proxy refuses to start (naming the anchor and the fix);
    after `audit anchor` it starts, and the log says it was re-anchored."""
    log = tmp_path / "audit.jsonl"
    serve_some(upstream, tmp_path, 1)
    default_anchor_path(log).unlink()
    with pytest.raises(RuntimeError) as refused:
        serve_some(upstream, tmp_path, 1)
    output = " ".join(str(refused.value).replace("\n", "").split())  # undo the line wrapping
    assert "none for a log that holds" in output
    assert "then `openclaw-secure-stack audit anchor` to seal the current head" in output
    result = run_cli(["audit", "anchor"], log_path=log, key=TEST_AUDIT_KEY.encode())
    assert result.exit_code == 0
    serve_some(upstream, tmp_path, 1)
    events = [r["event"] for r in records(log)]
    assert events.count("audit.reanchored") == 1
    assert verify(log)[0] == 0


def test_two_workers_share_one_anchored_chain(upstream, tmp_path):
    """PROXY_WORKERS=2: each worker records its start, 60 concurrent requests each leave an
    intent and an outcome, and the chain verifies against the anchor."""
    log = tmp_path / "audit.jsonl"
    env = proxy_environment(upstream.url, tmp_path, PROXY_WORKERS="2")
    with running_proxy(env, tmp_path) as port, ThreadPoolExecutor(8) as pool:
        statuses = list(
            pool.map(
                lambda n: raw_exchange(port, raw_request(f"/v1/w/{n}", token=ALICE)).status,
                range(60),
            )
        )
    assert statuses == [200] * 60
    written = records(log)
    assert sum(r["event"] == "audit.resumed" for r in written) == 2
    for n in range(60):
        mine = [r["event"] for r in written if r["details"].get("path") == f"/v1/w/{n}"]
        assert mine == ["proxy.intent", "proxy.request"]
    code, report = verify(log)
    assert (code, report["last_seq"], report["anchor_seq"]) == (0, len(written), len(written))
