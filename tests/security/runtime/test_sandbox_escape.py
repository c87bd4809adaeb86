"""Inside the real bubblewrap sandbox `up` builds, a shell cannot reach a secret by any path.

Each test lays out a data directory as `up` does (secrets beside OpenClaw's own directory), runs a
command in the sandbox built from the same plan and system mounts as the gateway's, and asserts
on what the command printed: the secret's value never, and the reason it failed.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from openclaw_secure_stack.runtime.sandbox import (
    SandboxPlan,
    bwrap_command,
    find_bwrap,
    system_arguments,
)

SECRET = "secret-canary-4f9a1c7e"


@pytest.fixture
def layout(tmp_path: Path) -> tuple[SandboxPlan, Path]:
    data = tmp_path / "data"
    (data / "secrets").mkdir(parents=True)
    (data / "secrets" / "audit-key").write_text(SECRET)
    (data / "audit").mkdir()
    (data / "audit" / "audit.jsonl").write_text(f'{{"key": "{SECRET}"}}\n')
    (tmp_path / ".env").write_text(f"AUDIT_KEY={SECRET}\n")
    gateway = data / "openclaw"
    (gateway / "workspace").mkdir(parents=True)
    plan = SandboxPlan(read_only=(), writable=(gateway,), workdir=gateway / "workspace")
    return plan, data


def run_inside(plan: SandboxPlan, script: str) -> str:
    command = bwrap_command(find_bwrap(), plan, ["sh", "-c", script], system_arguments())
    completed = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={"PATH": "/usr/bin:/bin"},
    )
    return completed.stdout + completed.stderr


@pytest.mark.parametrize(
    "script",
    [
        "cat {data}/secrets/audit-key",
        "cat ../../secrets/audit-key",
        "cd .. && cat ./../secrets/./audit-key",
        "cat {data}/secrets/*",
        "cat {data}/*/audit-key {data}/audit/*",
        'D={data}/secrets; F=audit-key; cat "$D/$F"',
        "ln -s {data}/secrets s && cat s/audit-key",
        "ln {data}/secrets/audit-key h 2>&1; cat h",
        "cat {data}/../.env",
        # Everything outside the read-only system: /tmp holds OpenClaw's directory here.
        "grep -rs {needle} /tmp /etc /root /home 2>/dev/null; echo searched",
    ],
)
def test_no_path_reaches_a_secret(layout: tuple[SandboxPlan, Path], script: str) -> None:
    """Absolute, relative, dot-segment, glob, variable, symlink, hard link, search: nothing."""
    plan, data = layout
    output = run_inside(plan, script.format(data=data, needle=f'"{SECRET[:7]}""{SECRET[7:]}"'))
    assert SECRET not in output
    assert "No such file or directory" in output or output.strip() == "searched"


def test_processes_outside_are_invisible(layout: tuple[SandboxPlan, Path]) -> None:
    """Only the sandbox's own processes exist; this process's environ is not reachable."""
    plan, _ = layout
    output = run_inside(plan, f"cat /proc/[0-9]*/comm; cat /proc/{os.getpid()}/environ")
    *names, error = output.splitlines()
    assert set(names) <= {"bwrap", "sh", "cat"}
    assert "No such file or directory" in error


def test_nothing_can_be_remounted(layout: tuple[SandboxPlan, Path]) -> None:
    """Without capabilities a mount to uncover what is hidden fails."""
    plan, data = layout
    output = run_inside(plan, f"mount --bind / {data}/openclaw/workspace 2>&1; echo rc=$?")
    assert "permission denied" in output
    assert output.strip().splitlines()[-1] != "rc=0"
    assert SECRET not in output


def test_the_gateway_directory_is_writable_and_the_rest_read_only(
    layout: tuple[SandboxPlan, Path],
) -> None:
    """Writes land in OpenClaw's own directory only; /usr and /etc refuse them."""
    plan, data = layout
    output = run_inside(plan, "touch ok && touch /usr/x /etc/x 2>&1; echo done")
    assert (data / "openclaw" / "workspace" / "ok").is_file()
    assert output.count("Read-only file system") == 2
