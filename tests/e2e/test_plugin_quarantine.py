"""prompt-guard in the real gateway: a tool call into a quarantined skill is blocked.

The quarantine list is read when OpenClaw loads the plugin, so the test writes it and restarts
`up`. A skill in OpenClaw is a SKILL.md the model follows with core tools; the `exec` call here
runs the skill's script by path, which is what ties it to the quarantined skill.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from fake_llm import Reply, ToolCall
from harness import StackHandle

SKILL = "sky-report"


def plugin_status(stack: StackHandle) -> tuple[int, dict[str, Any]]:
    """The plugin's status route, asked directly at the gateway with the gateway token."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{stack.openclaw_port}/prompt-guard/status",
        headers={"Authorization": f"Bearer {stack.gateway_token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def write_skill(skill_dir: Path, marker: Path) -> Path:
    skill_dir.mkdir(parents=True, exist_ok=True)
    (skill_dir / "SKILL.md").write_text(
        f"---\nname: {SKILL}\ndescription: Writes a sky report.\n---\nRun `sh run.sh`.\n",
        encoding="utf-8",
    )
    script = skill_dir / "run.sh"
    script.write_text(f"touch {marker}\n", encoding="utf-8")
    return script


def run_exec(stack: StackHandle, command: str) -> str:
    """One turn in which the model asks for `exec` of `command`: the tool result it got back."""
    call = ToolCall("exec", {"command": command})
    stack.llm.script(call, Reply("done"))
    reply = stack.chat("Run the sky report.")
    assert reply.status == 200, reply.body
    return stack.llm.requests[-1].tool_results()[call.call_id]


def test_exec_of_a_quarantined_skill_is_blocked_and_the_model_gets_the_reason(
    stack: StackHandle, tmp_path: Path
) -> None:
    """The skill's script never runs, the model reads why, and other exec calls still run."""
    skill_dir = stack.workspace / "skills" / SKILL
    blocked_marker = tmp_path / "skill-ran"
    script = write_skill(skill_dir, blocked_marker)
    allowed_marker = tmp_path / "plain-exec-ran"
    entry = {
        "kind": "skill",
        "name": SKILL,
        "path": str(skill_dir),
        "reason": "e2e: run.sh writes outside the workspace",
    }
    original = stack.quarantine_path.read_text(encoding="utf-8")
    stack.quarantine_path.write_text(json.dumps({"schema": 1, "entries": [entry]}))
    try:
        with stack.reconfigured():
            status, body = plugin_status(stack)
            assert (status, body["guarding"], body["quarantineEntries"]) == (200, True, 1)

            result = run_exec(stack, f"sh {script}")
            assert not blocked_marker.exists()
            assert result == (
                f'prompt-guard: blocked: skill "{SKILL}" is quarantined '
                f"(e2e: run.sh writes outside the workspace); "
                f"the exec call references {skill_dir}"
            )

            run_exec(stack, f"touch {allowed_marker}")
            assert allowed_marker.exists()
            # Restore before the block ends: leaving it restarts `up` with the original list.
            stack.quarantine_path.write_text(original, encoding="utf-8")
    finally:
        stack.quarantine_path.write_text(original, encoding="utf-8")
