"""The bubblewrap command line `up` runs OpenClaw with, and the checks that fail closed."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from openclaw_secure_stack.runtime.sandbox import (
    SandboxError,
    SandboxPlan,
    bwrap_command,
    find_bwrap,
    probe,
    require_hidden,
    system_arguments,
)


def plan_for(tmp_path: Path, **values: object) -> SandboxPlan:
    defaults: dict[str, object] = {
        "read_only": (tmp_path / "install", tmp_path / "plugin"),
        "writable": (tmp_path / "data" / "openclaw",),
        "workdir": tmp_path / "data" / "openclaw",
    }
    return SandboxPlan(**{**defaults, **values})  # type: ignore[arg-type]


def pairs(argv: list[str], flag: str) -> list[str]:
    """The operand of every `flag` in `argv` (first operand for two-operand flags)."""
    return [argv[index + 1] for index, item in enumerate(argv) if item == flag]


def test_only_the_plan_is_mounted_read_only_or_writable(tmp_path: Path) -> None:
    """Each read-only path is --ro-bind, the gateway dir --bind, at the same place; no `/`."""
    plan = plan_for(tmp_path)
    argv = bwrap_command(Path("/usr/bin/bwrap"), plan, ["node", "x.mjs"], [])
    assert pairs(argv, "--ro-bind") == [str(tmp_path / "install"), str(tmp_path / "plugin")]
    assert pairs(argv, "--bind") == [str(tmp_path / "data" / "openclaw")]
    assert "/" not in pairs(argv, "--ro-bind") + pairs(argv, "--bind")
    assert argv[-3:] == ["--", "node", "x.mjs"]
    assert pairs(argv, "--chdir") == [str(tmp_path / "data" / "openclaw")]


def test_a_read_only_path_inside_a_writable_one_is_mounted_after_it(tmp_path: Path) -> None:
    """OpenClaw's config, inside its writable directory, is bound read-only over it."""
    config = tmp_path / "data" / "openclaw" / "openclaw.json"
    plan = plan_for(tmp_path, read_only=(config,))
    argv = bwrap_command(Path("bwrap"), plan, ["true"], [])
    assert argv.index("--ro-bind") > argv.index("--bind")
    assert pairs(argv, "--ro-bind") == [str(config)]


def test_namespaces_capabilities_and_parent_death(tmp_path: Path) -> None:
    """Own PID namespace with a fresh /proc, no capabilities, dies with `up`, private /tmp."""
    argv = bwrap_command(Path("/usr/bin/bwrap"), plan_for(tmp_path), ["true"], [])
    for flag in ("--unshare-pid", "--die-with-parent", "--new-session"):
        assert flag in argv
    assert pairs(argv, "--cap-drop") == ["ALL"]
    assert pairs(argv, "--proc") == ["/proc"]
    assert pairs(argv, "--tmpfs") == ["/tmp"]


def test_hidden_directories_are_covered_after_the_mounts(tmp_path: Path) -> None:
    """A hidden directory gets an empty tmpfs placed after the bind that would show it."""
    hidden = tmp_path / "install" / "skills" / "evil"
    argv = bwrap_command(Path("bwrap"), plan_for(tmp_path, hidden=(hidden,)), ["true"], [])
    assert pairs(argv, "--tmpfs")[-1] == str(hidden)
    assert argv.index(str(hidden)) > argv.index(str(tmp_path / "install"))


def test_system_paths_are_read_only_and_symlinks_stay_symlinks(tmp_path: Path) -> None:
    """A real directory is --ro-bind, a symlinked one (merged /usr) a --symlink, a missing one
    nothing; a symlinked resolv.conf brings its target."""
    (tmp_path / "usr").mkdir()
    (tmp_path / "bin").symlink_to("usr/bin")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "resolv.conf").write_text("nameserver 127.0.0.53\n")
    (tmp_path / "resolv.conf").symlink_to(tmp_path / "run" / "resolv.conf")
    argv = system_arguments(
        [tmp_path / "usr", tmp_path / "bin", tmp_path / "lib32"], tmp_path / "resolv.conf"
    )
    assert argv == [
        "--ro-bind", str(tmp_path / "usr"), str(tmp_path / "usr"),
        "--symlink", "usr/bin", str(tmp_path / "bin"),
        "--ro-bind", str(tmp_path / "run" / "resolv.conf"), str(tmp_path / "run" / "resolv.conf"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    "secret",
    ["data/openclaw", "data/openclaw/state/audit.jsonl", "plugin/.env", "install/x/../y"],
)
def test_a_secret_inside_a_mount_stops_up(tmp_path: Path, secret: str) -> None:
    """A secret placed at or under anything mounted is refused, naming the setting."""
    with pytest.raises(SandboxError, match=r"^AUDIT_LOG_PATH: .* would be readable by OpenClaw"):
        require_hidden(plan_for(tmp_path), {"AUDIT_LOG_PATH": tmp_path / secret})


@pytest.mark.parametrize("secret", ["data/secrets", "data", "data/openclaw-other", "plugins"])
def test_a_secret_outside_every_mount_is_accepted(tmp_path: Path, secret: str) -> None:
    """Siblings, parents and look-alike prefixes of a mount are not inside it."""
    require_hidden(plan_for(tmp_path), {"AUDIT_LOG_PATH": tmp_path / secret})


def test_a_missing_bwrap_stops_up_with_the_fix() -> None:
    """Without bubblewrap `up` does not fall back to no isolation: the error says what to do."""
    with pytest.raises(SandboxError, match=r"apt-get install bubblewrap.*OPENCLAW_SANDBOX=off"):
        find_bwrap(lambda _name: None)


@pytest.mark.parametrize(
    ("script", "reason"),
    [
        ("echo 'bwrap: No permissions to creating new namespace' >&2; exit 1", "No permissions"),
        ("exit 3", "exit 3"),
    ],
)
def test_a_bwrap_that_cannot_create_the_sandbox_stops_up(
    tmp_path: Path, script: str, reason: str
) -> None:
    """The probe runs the real plan; a failure is an error with bwrap's reason, not a warning."""
    fake = tmp_path / "bwrap"
    fake.write_text(f"#!/bin/sh\n{script}\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    with pytest.raises(SandboxError, match=reason):
        probe(fake, plan_for(tmp_path), [])
