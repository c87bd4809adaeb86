"""Capture the chat request the real OpenClaw sends its model, for bench/model_gateway.py.

Runs `openclaw-secure-stack up` with the e2e harness (tests/e2e/harness.py: the pinned OpenClaw,
our plugin, the proxy) against the e2e suite's recording fake model, asks one question whose
turn runs a few tools, and saves the last model request of that turn (system prompt, tools,
the tool results) as bench/fixtures/openclaw-chat-request.json. Temporary paths and the
stack's secrets are replaced by fixed placeholders, so the file is the same shape on every
machine and holds nothing of this one.

    uv run python -m bench.capture_openclaw_request     # about a minute; installs OpenClaw once
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
FIXTURE = BENCH_DIR / "fixtures" / "openclaw-chat-request.json"
sys.path[:0] = [str(REPO_DIR / "tests" / "e2e")]

from fake_llm import FakeLLM, Reply, ToolCall  # noqa: E402
from harness import INSTALL_ROOT, StackHandle  # noqa: E402

from openclaw_secure_stack import resources  # noqa: E402
from openclaw_secure_stack.runtime.install import ensure_installed  # noqa: E402
from openclaw_secure_stack.runtime.node import find_node  # noqa: E402

QUESTION = "Look at the two Python files in the workspace and tell me what they do."
# Copied into the agent's workspace for it to read: real code, a few KB each.
WORKSPACE_FILES = ("sse_upstream.py", "bare_forwarder.py")
# Paths the tools read and return, as placeholders the fixture keeps instead.
HOME = "/home/user"


def turn(stack: StackHandle) -> None:
    """One agent turn in which the model lists the workspace, reads two files and runs a
    command on them, then answers. The files are copied into the workspace first: OpenClaw's
    sandbox sees nothing else."""
    for name in WORKSPACE_FILES:
        shutil.copyfile(BENCH_DIR / name, stack.workspace / name)
    first, second = WORKSPACE_FILES
    stack.llm.script(
        ToolCall("exec", {"command": "ls -la"}),
        ToolCall("read", {"path": first}),
        ToolCall("exec", {"command": f"grep -n 'def ' {first} {second}"}),
        ToolCall("read", {"path": second}),
        Reply("Two small benchmark helpers: an SSE upstream and a bare forwarder."),
    )
    reply = stack.chat(QUESTION)
    if reply.status != 200:
        raise SystemExit(f"OpenClaw answered {reply.status}: {reply.body[:500]!r}")


def scrubbed(body: object, stack: StackHandle) -> object:
    """`body` with this run's paths and secrets replaced by placeholders."""
    text = json.dumps(body, ensure_ascii=False)
    secrets = {
        stack.client_token: "<client-token>",
        stack.gateway_token: "<gateway-token>",
        "fake-provider-key": "<provider-key>",
    }
    for secret, placeholder in secrets.items():
        text = text.replace(secret, placeholder)
    paths = {
        str(stack.data_dir.parent): f"{HOME}/.openclaw-secure-stack",
        str(REPO_DIR): f"{HOME}/openclaw-secure-stack",
        str(Path.home()): HOME,
    }
    for path, placeholder in sorted(paths.items(), key=lambda item: -len(item[0])):
        text = text.replace(path, placeholder)
    text = text.replace(f"host={socket.gethostname()} ", "host=host ")
    return json.loads(text)


def main() -> int:
    ensure_installed(INSTALL_ROOT, find_node())
    llm = FakeLLM().start()
    with tempfile.TemporaryDirectory(prefix="oss-capture-") as tmp:
        root = Path(tmp)
        quarantine = root / "quarantine.json"
        shutil.copyfile(resources.QUARANTINE_LIST, quarantine)
        stack = StackHandle(
            llm=llm,
            data_dir=root / "data",
            quarantine_path=quarantine,
            rules_path=resources.INDIRECT_RULES,
            audit_log_path=root / "audit" / "audit.jsonl",
            base_env=dict(os.environ),
        )
        stack.start()
        try:
            turn(stack)
            requests = stack.llm.requests
            last = requests[-1]
            body = scrubbed(dict(last.body), stack)
        finally:
            stack.stop()
            llm.stop()
    FIXTURE.parent.mkdir(exist_ok=True)
    FIXTURE.write_text(json.dumps(body, indent=1, ensure_ascii=False) + "\n")
    encoded = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    messages = body["messages"] if isinstance(body, dict) else []
    print(
        f"{FIXTURE.relative_to(REPO_DIR)}: {len(encoded):,} bytes compact, "
        f"{len(messages)} messages, {len(body.get('tools', [])) if isinstance(body, dict) else 0} "
        f"tools, {sum(m.get('role') == 'tool' for m in messages)} tool results "
        f"({len(requests)} model calls in the turn)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
