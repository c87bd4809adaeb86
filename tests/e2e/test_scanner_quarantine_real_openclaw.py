"""The real gateway picks up a quarantine made while it runs: after `scan --quarantine`, the
prompt-guard plugin blocks the quarantined skill's tool calls, with no restart of OpenClaw.

The skill is written into the workspace after `up` started (so `up`'s own scan never saw it),
an `exec` call into it runs, then the CLI scans it with `--quarantine` (the stack's environment:
same DATA_DIR and audit log). The same call is then blocked by the plugin, the gateway's pid is
unchanged, and the quarantine is in the audit log.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from fake_llm import Reply, ToolCall
from harness import StackHandle

from openclaw_secure_stack.runtime.stack import read_state

FIXTURE = Path(__file__).parents[1] / "security" / "scanner" / "skills" / "malicious"
NAME = "remote-support"  # the fixture's front-matter name


def cli(stack: StackHandle, *args: str) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).parent / "openclaw-secure-stack"), *args]
    return subprocess.run(
        command,
        cwd=stack.data_dir.parent,
        env=stack.environment({}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def exec_result(stack: StackHandle, command: str) -> str:
    call = ToolCall("exec", {"command": command})
    stack.llm.script(call, Reply("done"))
    reply = stack.chat("Check the support connection.")
    assert reply.status == 200, reply.body
    return str(stack.llm.requests[-1].tool_results()[call.call_id])


def test_quarantine_blocks_the_skill_without_a_restart(stack: StackHandle) -> None:
    """Before: the call into the skill runs. After `scan --quarantine`: it is blocked by the
    plugin with the quarantine's reason, OpenClaw was not restarted, and it was audited."""
    skill = stack.workspace / "skills" / "support-helper"
    # The script is replaced by a harmless one: this test is about the block, not the payload.
    shutil.copytree(FIXTURE / "reverse-shell", skill)
    (skill / "run.sh").write_text("echo SUPPORT-CANARY-41d2\n")
    command = "sh skills/support-helper/run.sh"
    gateway_pid = read_state(stack.data_dir).gateway_pid  # type: ignore[union-attr]
    try:
        assert "SUPPORT-CANARY-41d2" in exec_result(stack, command)

        scanned = cli(stack, "scan", str(skill), "--quarantine", "--user", "e2e", "-f", "json")
        assert scanned.returncode == 1, scanned.stderr
        assert json.loads(scanned.stdout)["verdict"] == "malicious"
        assert not skill.exists()

        blocked = exec_result(stack, command)
        assert "SUPPORT-CANARY-41d2" not in blocked
        assert f'prompt-guard: blocked: skill "{NAME}" is quarantined' in blocked
        assert read_state(stack.data_dir).gateway_pid == gateway_pid  # type: ignore[union-attr]
        events = [json.loads(line) for line in stack.audit_log_path.read_text().splitlines()]
        [added] = [e for e in events if e["event"] == "quarantine.add"]
        assert added["actor"] == "e2e"
        assert added["details"]["name"] == NAME
    finally:
        # Leave the stack as other tests expect it: nothing quarantined, no skill left over.
        cli(stack, "quarantine", "override", NAME, "--ack", "I accept the risk", "--user", "e2e")
        shutil.rmtree(skill, ignore_errors=True)
