"""The model gateway `up` starts, between the real OpenClaw and the (fake) provider.

`up` points OpenClaw's model provider at the gateway with a per-start key; the gateway alone
holds the provider key, cleans tool results before the model reads them, sees every tool call
the model proposes, and translates to Anthropic's Messages API. Each test asserts on what the
fake provider received (what the model read) and on what OpenClaw did.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_llm import Reply, ToolCall
from harness import PROVIDER_KEY, StackHandle, free_port
from test_gateway_isolation import exec_results
from test_plugin_redaction import BENIGN_HEAD, EXFIL_IMAGE, OVERRIDE
from tests.fakes.model_providers import Call, FakeAnthropic, Turn

from openclaw_secure_stack.audit.testing import run_cli
from openclaw_secure_stack.proxy.testing import running_program
from openclaw_secure_stack.runtime.stack import read_state
from openclaw_secure_stack.runtime.supervisor import descendants

DECIDING_GATEWAY = Path(__file__).with_name("deciding_gateway.py")
# The supervisor waits 1 s, then the gateway starts (a few seconds on a busy machine).
RESTART_WAIT = 60.0
BLOCK_REASON = "exec is not allowed by the end-to-end test policy"  # deciding_gateway.REASON


def canary() -> str:
    return uuid.uuid4().hex[:16]


def test_an_injected_tool_result_is_cleaned_before_the_model_reads_it(stack: StackHandle) -> None:
    """In the same run: a stripped span is replaced by a marker and the rest kept, a rejected
    result is withheld whole; no model call ever carries the injected text; audited."""
    marker = canary()
    page, mail = stack.workspace / f"page-{marker}.md", stack.workspace / f"mail-{marker}.txt"
    page.write_text(f"{BENIGN_HEAD} {marker}\n{EXFIL_IMAGE}\n", encoding="utf-8")
    mail.write_text(f"{OVERRIDE}\n", encoding="utf-8")
    read_page = ToolCall("read", {"path": str(page)})
    read_mail = ToolCall("read", {"path": str(mail)})
    stack.llm.script(read_page, read_mail, Reply("I read both."))

    result = stack.chat("Read both files.")

    assert result.status == 200, result.body
    results = stack.llm.requests[-1].tool_results()
    assert f"{BENIGN_HEAD} {marker}" in results[read_page.call_id]
    assert "[removed by OpenClaw Secure Stack: OSS-IND-004]" in results[read_page.call_id]
    assert "was withheld because it matched" in results[read_mail.call_id]
    assert "OSS-IND-001" in results[read_mail.call_id]
    for request in stack.llm.requests:
        body = json.dumps(request.body)
        assert "attacker.example" not in body and "mail ~/.ssh/id_rsa" not in body
    findings = [
        finding
        for record in stack.audit_records("model_gateway.call")
        for finding in record["details"]["findings"]
    ]
    assert {("read", "strip"), ("read", "reject")} <= {(f["tool"], f["decision"]) for f in findings}
    assert marker not in stack.audit_log_path.read_text()


def test_the_provider_key_is_out_of_openclaws_reach(stack: StackHandle) -> None:
    """The key the fake provider expects is in no OpenClaw file, in no OpenClaw process's
    environment, not in the proxy's, and OpenClaw's exec cannot read the internal token; the
    provider still receives it, from the gateway (whose environment holds it)."""
    state = read_state(stack.data_dir)
    assert state is not None and state.model_gateway_pid
    [tokens] = exec_results(stack, f"cat {stack.data_dir / 'run' / 'internal-api-token'}")
    assert "No such file or directory" in tokens

    key = PROVIDER_KEY.encode()
    openclaw = [state.gateway_pid, *descendants(state.gateway_pid)]
    environs = {pid: Path(f"/proc/{pid}/environ").read_bytes() for pid in openclaw}
    assert any(b"OPENCLAW_STATE_DIR=" in environ for environ in environs.values())
    assert [pid for pid, environ in environs.items() if key in environ] == []
    assert key not in Path(f"/proc/{state.proxy_pid}/environ").read_bytes()
    assert key in Path(f"/proc/{state.model_gateway_pid}/environ").read_bytes()
    assert stack.openclaw_traces(PROVIDER_KEY) == []

    config = json.loads((stack.openclaw_root / "openclaw.json").read_text())
    provider = config["models"]["providers"]["stack"]
    assert provider["baseUrl"] == f"http://127.0.0.1:{stack.model_gateway_port}/v1"
    assert provider["apiKey"] not in (PROVIDER_KEY, "")
    assert {request.headers.get("Authorization") for request in stack.llm.requests} == {
        f"Bearer {PROVIDER_KEY}"
    }


def test_a_streamed_turn_with_a_tool_call_passes_every_hop(stack: StackHandle) -> None:
    """SSE from client to proxy to OpenClaw to gateway to provider and back, with a tool call
    in between: the command ran, its result reached the model, the call is audited as allowed."""
    marker = canary()
    call = ToolCall("exec", {"command": f"echo streamed-{marker}"})
    stack.llm.script(call, Reply(f"done {marker}"))

    result = stack.chat("Run the command.", stream=True)

    assert result.status == 200, result.body
    assert result.headers["content-type"].startswith("text/event-stream")
    assert result.events()[-1] == "[DONE]"
    assert result.text() == f"done {marker}"
    assert f"streamed-{marker}" in stack.llm.requests[-1].tool_results()[call.call_id]
    assert all(request.body["stream"] is True for request in stack.llm.requests)
    proposed = [
        proposal
        for record in stack.audit_records("model_gateway.call")
        for proposal in record["details"]["tool_calls"]
    ]
    assert {"id": call.call_id, "name": "exec", "decision": "allow"}.items() <= proposed[-1].items()


def test_the_proxy_and_the_gateway_write_one_verifiable_chain(stack: StackHandle) -> None:
    """Both writers share the audit log, its anchor and key: after a turn, the log holds the
    proxy's and the gateway's records of it, and `audit verify` finds the chain intact."""
    stack.llm.reply("ok")
    result = stack.chat("hello")
    assert result.status == 200, result.body
    events = [record["event"] for record in stack.audit_records()]
    last_call = len(events) - 1 - events[::-1].index("model_gateway.call")
    assert "proxy.request" in events[last_call:]
    key = (stack.data_dir / "secrets" / "audit-key").read_bytes().strip()
    verified = run_cli(["audit", "verify"], log_path=stack.audit_log_path, key=key)
    assert verified.exit_code == 0, verified.output


def test_a_model_gateway_that_dies_is_restarted(stack: StackHandle) -> None:
    """`up` supervises the gateway: killed, it comes back on its port (a new `audit.resumed`
    record says so) and the next turn reaches the model again."""
    state = read_state(stack.data_dir)
    assert state is not None and state.model_gateway_pid
    resumed_before = len(stack.audit_records("audit.resumed"))
    os.kill(state.model_gateway_pid, signal.SIGKILL)
    deadline = time.monotonic() + RESTART_WAIT
    while (now := read_state(stack.data_dir)) is None or now.model_gateway_pid in (
        0,
        state.model_gateway_pid,
    ):
        assert time.monotonic() < deadline, "the model gateway was not restarted"
        time.sleep(0.25)
    resumed = stack.audit_records("audit.resumed")[resumed_before:]
    assert "model-gateway" in {record["actor"] for record in resumed}
    answer = f"back {canary()}"
    stack.llm.reply(answer)
    result = stack.chat("hello again")
    assert result.status == 200, result.body
    assert result.text() == answer


@pytest.fixture
def deciding_gateway(stack: StackHandle, tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    """`deciding_gateway.py` (the real gateway, blocking exec) in front of the fake LLM: its
    base URL, key and audit log."""
    port, key, audit_log = free_port(), secrets.token_urlsafe(32), tmp_path / "audit.jsonl"
    env = {
        "PATH": "/usr/bin:/bin",
        "MODEL_GATEWAY_KEY": key,
        "MODEL_GATEWAY_PORT": str(port),
        "MODEL_API_KEY": PROVIDER_KEY,
        "MODEL_BASE_URL": stack.llm.base_url,
        "MODEL_NAME": "fake-model",
        "AUDIT_KEY": secrets.token_hex(32),
        "AUDIT_LOG_PATH": str(audit_log),
        "DATA_DIR": str(tmp_path / "data"),
    }
    argv = [sys.executable, str(DECIDING_GATEWAY)]
    with running_program(argv, env, tmp_path, port=port, name="deciding-gateway"):
        yield f"http://127.0.0.1:{port}/v1", key, audit_log


def test_a_call_the_decision_hook_blocks_never_runs(
    stack: StackHandle, deciding_gateway: tuple[str, str, Path]
) -> None:
    """A decider passed to `server.serve` blocks `exec`: the command never runs, the model is
    never asked about its result, and OpenClaw's answer says the call was blocked and why.

    `up`'s gateway forwards to the deciding one (its provider here), which talks to the fake."""
    url, key, audit_log = deciding_gateway
    marker_file = stack.workspace / f"blocked-{canary()}"
    call = ToolCall("exec", {"command": f"touch {marker_file}"})
    with stack.reconfigured(MODEL_BASE_URL=url, MODEL_API_KEY=key):
        stack.llm.script(call, Reply("the model was asked again"))
        result = stack.chat("Touch the file.")

    assert result.status == 200, result.body
    assert not marker_file.exists()
    assert "blocked the tool call 'exec'" in result.text() and BLOCK_REASON in result.text()
    assert all(call.call_id not in request.tool_results() for request in stack.llm.requests)
    records = [json.loads(line) for line in audit_log.read_text().splitlines()]
    decisions = [
        (proposal["name"], proposal["decision"], proposal["reason"])
        for record in records
        if record["event"] == "model_gateway.call"
        for proposal in record["details"]["tool_calls"]
    ]
    assert decisions == [("exec", "block", BLOCK_REASON)]


def test_anthropic_streaming_tool_use_is_translated_both_ways(stack: StackHandle) -> None:
    """MODEL_PROVIDER=anthropic: OpenClaw's calls become Messages API calls with the real key in
    x-api-key; a streamed tool_use runs as OpenClaw's exec, its output goes back as a
    tool_result, and the final streamed text reaches the client."""
    marker = canary()
    marker_file = stack.workspace / f"anthropic-{marker}"
    command = f"echo anthropic-{marker} > {marker_file} && cat {marker_file}"
    use = Call("exec", {"command": command})
    anthropic = FakeAnthropic().start()
    anthropic.step = Turn("Running it.", calls=(use,))
    anthropic.after_tools = Turn(f"finished {marker}")
    try:
        with stack.reconfigured(MODEL_PROVIDER="anthropic", MODEL_BASE_URL=anthropic.base_url):
            result = stack.chat("Run it.", stream=True)
    finally:
        anthropic.stop()

    assert result.status == 200, result.body
    assert result.text().endswith(f"finished {marker}")
    assert marker_file.read_text().strip() == f"anthropic-{marker}"
    assert {(r.path, r.headers.get("x-api-key")) for r in anthropic.requests} == {
        ("/v1/messages", PROVIDER_KEY)
    }
    first, last = anthropic.requests[0].body, anthropic.requests[-1].body
    assert first["stream"] is True
    assert "exec" in {tool["name"] for tool in first["tools"]}
    results = [
        block
        for message in last["messages"]
        if isinstance(message["content"], list)
        for block in message["content"]
        if block.get("type") == "tool_result"
    ]
    assert [r["tool_use_id"].replace("_", "") for r in results] == [use.call_id.replace("_", "")]
    assert f"anthropic-{marker}" in json.dumps(results[0]["content"])
