"""A quarantined skill is out of the real OpenClaw's reach: not loaded, not listed, not readable.

The module's fixture writes skills into places OpenClaw loads them from (its workspace's
`skills/`, its managed `state/skills/` under another directory name), quarantines one by name,
one bundled skill, and restarts `up`, which moves the quarantined copies into the vault under
DATA_DIR (not mounted in OpenClaw's sandbox), hides the bundled one and disables the names in
OpenClaw's config. Tests then ask, through the fake model's `exec` calls, for the files by every
spelling and assert on what the tool results sent back to the model contain.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_llm import Reply, ToolCall
from harness import INSTALL_ROOT, StackHandle

from openclaw_secure_stack.runtime.install import find_install

QUARANTINED = "sky-report"
CONTROL = "moon-report"
BUNDLED = "diagram-maker"
CANARY = "SKY-CANARY-7c1e0f"
CONTROL_CANARY = "MOON-CANARY-2b9d44"


def write_skill(skill_dir: Path, name: str, canary: str) -> None:
    skill_dir.mkdir(parents=True, exist_ok=True)
    (skill_dir / "SKILL.md").write_text(
        f"---\nname: {name}\ndescription: Writes a {name}.\n---\nRun `sh run.sh`.\n",
        encoding="utf-8",
    )
    (skill_dir / "run.sh").write_text(f"echo {canary}\n", encoding="utf-8")


@pytest.fixture(scope="module")
def quarantined(running_stack: StackHandle) -> Iterator[StackHandle]:
    stack = running_stack
    write_skill(stack.workspace / "skills" / QUARANTINED, QUARANTINED, CANARY)
    # Same skill under another directory name, in the managed root: found by its front matter.
    write_skill(stack.openclaw_root / "state" / "skills" / "renamed", QUARANTINED, CANARY)
    write_skill(stack.workspace / "skills" / CONTROL, CONTROL, CONTROL_CANARY)
    entries = [
        {"kind": "skill", "name": QUARANTINED, "reason": "e2e: exfiltrates"},
        {"kind": "skill", "name": BUNDLED, "reason": "e2e: bundled but quarantined"},
    ]
    original = stack.quarantine_path.read_text(encoding="utf-8")
    stack.quarantine_path.write_text(json.dumps({"schema": 1, "entries": entries}))
    try:
        stack.stop()
        stack.start()
        yield stack
    finally:
        stack.quarantine_path.write_text(original, encoding="utf-8")
        # The next test that uses `stack` restarts `up` with the original list.
        stack.reconfigured_now = True


def exec_results(stack: StackHandle, *commands: str) -> list[str]:
    """One turn in which the model runs `commands` with `exec`: their results, in order."""
    return tool_results(stack, *(ToolCall("exec", {"command": command}) for command in commands))


def tool_results(stack: StackHandle, *calls: ToolCall) -> list[str]:
    """One turn in which the model makes `calls`: their results, in order."""
    stack.llm.script(*calls, Reply("done"))
    reply = stack.chat("Run the sky report.")
    assert reply.status == 200, reply.body
    results = stack.llm.requests[-1].tool_results()
    return [results[call.call_id] for call in calls]


def vaulted(stack: StackHandle) -> list[Path]:
    return sorted((stack.data_dir / "quarantine").glob("*/**/SKILL.md"))


def listed_skills(stack: StackHandle) -> str:
    """The system prompt OpenClaw sent the model on the latest turn."""
    stack.llm.reply("ok")
    assert stack.chat("hello").status == 200
    return str(stack.llm.requests[-1].messages[0]["content"])


def test_quarantined_copies_are_moved_to_the_vault(
    quarantined: StackHandle, stack: StackHandle
) -> None:
    """Both copies left OpenClaw's directory for the vault; the control skill stayed."""
    assert not (stack.workspace / "skills" / QUARANTINED).exists()
    assert not (stack.openclaw_root / "state" / "skills" / "renamed").exists()
    assert (stack.workspace / "skills" / CONTROL / "run.sh").is_file()
    vault = stack.data_dir / "quarantine"
    assert [path.relative_to(vault).parts[1:] for path in vaulted(stack)] == [
        ("state", "skills", "renamed", "SKILL.md"),
        ("workspace", "skills", QUARANTINED, "SKILL.md"),
    ]


def test_quarantined_skills_are_not_offered_to_the_model(
    quarantined: StackHandle, stack: StackHandle
) -> None:
    """The system prompt lists the control skill and no quarantined or bundled-quarantined one."""
    prompt = listed_skills(stack)
    assert f"<name>{CONTROL}</name>" in prompt
    assert f"<name>{QUARANTINED}</name>" not in prompt
    assert f"<name>{BUNDLED}</name>" not in prompt
    assert "<name>clawhub</name>" in prompt  # other bundled skills are still there


def test_exec_cannot_reach_the_quarantined_files_by_any_spelling(
    quarantined: StackHandle, stack: StackHandle
) -> None:
    """cd + relative path, glob, variable, ./ and .. segments, symlink, vault path, search: none
    reaches the skill's files; the control skill's file is read the same way."""
    vault = stack.data_dir / "quarantine"
    link = stack.workspace / "vault-link"
    head, tail = CANARY[:6], CANARY[6:]
    results = exec_results(
        stack,
        f"cd skills && sh {QUARANTINED}/run.sh",
        f"cat skills/*/run.sh {stack.openclaw_root}/*/skills/*/run.sh",
        f"S={QUARANTINED}; sh ./skills/$S/run.sh",
        f"cat ./skills/./{CONTROL}/../{QUARANTINED}/run.sh",
        "cat ../state/skills/renamed/run.sh",
        f"ln -s {vault} {link}; cat {link}/*/workspace/skills/*/run.sh",
        f"cat {vault}/*/*/*/sky*/run.sh",
        f'grep -rl "{head}""{tail}" .. /tmp {stack.data_dir} 2>/dev/null; echo searched',
    )
    assert [CANARY in result for result in results] == [False] * len(results)
    for result in results[:1] + results[2:-1]:
        assert "No such file" in result, result
    # The glob did run, and read the control skill's script, and nothing else.
    assert results[1].splitlines()[0] == f"echo {CONTROL_CANARY}"
    assert results[-1].strip() == "searched"


def test_the_read_tool_cannot_load_the_skill_either(
    quarantined: StackHandle, stack: StackHandle
) -> None:
    """OpenClaw's `read` (how a model loads a SKILL.md) of the old places and of the vault
    finds nothing; the control skill's SKILL.md reads fine."""
    vault_copy = next(path for path in vaulted(stack) if "renamed" in path.parts)
    results = tool_results(
        stack,
        ToolCall("read", {"path": f"skills/./{QUARANTINED}/SKILL.md"}),
        ToolCall("read", {"path": str(stack.openclaw_root / "state/skills/renamed/SKILL.md")}),
        ToolCall("read", {"path": str(vault_copy)}),
        ToolCall("read", {"path": f"skills/{CONTROL}/SKILL.md"}),
    )
    assert [f"Writes a {QUARANTINED}" in result for result in results] == [False] * 4
    for result in results[:3]:
        assert '"error": "File not found: ' in result, result
    assert f"Writes a {CONTROL}" in results[3]


def test_a_bundled_quarantined_skill_is_empty_inside(
    quarantined: StackHandle, stack: StackHandle
) -> None:
    """The bundled skill's directory shows up empty in OpenClaw's sandbox; its siblings do not."""
    install = find_install(INSTALL_ROOT)
    assert install is not None
    skills = install.entry.parent / "skills"
    assert (skills / BUNDLED / "SKILL.md").is_file()  # still there outside the sandbox
    listing, sibling = exec_results(
        stack, f"cd {skills} && ls -A {BUNDLED[:-1]}?; echo listed", f"ls {skills / 'clawhub'}"
    )
    assert listing.strip() == "listed"
    assert "SKILL.md" in sibling.split()


def test_a_copy_written_back_at_run_time_is_not_loaded(
    quarantined: StackHandle, stack: StackHandle
) -> None:
    """The model recreates the quarantined skill and a new one: only the new one is offered."""
    for name in (QUARANTINED, "star-report"):
        (result,) = exec_results(
            stack,
            f"mkdir -p skills/x-{name} && printf -- '---\\nname: {name}\\n"
            f"description: Writes a report.\\n---\\nRun it.\\n' > skills/x-{name}/SKILL.md"
            " && echo written",
        )
        assert result.strip() == "written"
    deadline = time.monotonic() + 60
    while "<name>star-report</name>" not in (prompt := listed_skills(stack)):
        assert time.monotonic() < deadline, "OpenClaw never loaded the new skill"
        time.sleep(1)
    assert f"<name>{QUARANTINED}</name>" not in prompt
