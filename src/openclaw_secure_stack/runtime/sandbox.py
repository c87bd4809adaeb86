"""Run OpenClaw where the stack's secrets do not exist: a bubblewrap sandbox from an allowlist.

OpenClaw runs as the same user as the stack, so file modes cannot keep it, or the commands its
`exec` tool runs, away from the stack's files. Instead the gateway gets its own mount namespace in
which only what it needs is mounted: the system's programs and libraries and Node, the OpenClaw
install, the plugin with its rules and quarantine list (all read-only), and its own directory
(state, workspace, home, logs, temp) writable. Everything else does not exist in there, whatever
path, glob, variable or symlink names it: the client tokens, gateway token and audit key under
DATA_DIR, the audit log and its anchor, `.env`, the user's home, the quarantine vault. A PID
namespace with its own /proc hides the other processes: the proxy's environment holds the audit
key. All capabilities are dropped.

The network stays shared: the proxy reaches the gateway on loopback and the gateway reaches its
model. Allowlisted egress (issue #25) extends `SandboxPlan` with a network namespace.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

# Programs, shared libraries and /etc (users, resolver, CA certificates) for Node and for the
# commands `exec` runs. Absent ones are skipped; symlinked ones (merged /usr) stay symlinks.
SYSTEM_PATHS = (
    Path("/usr"),
    Path("/bin"),
    Path("/sbin"),
    Path("/lib"),
    Path("/lib32"),
    Path("/lib64"),
    Path("/etc"),
)
# /etc/resolv.conf is often a symlink into /run, which is not mounted: its target is, read-only.
RESOLV_CONF = Path("/etc/resolv.conf")
PROBE_TIMEOUT_SECONDS = 30


class SandboxError(Exception):
    """The sandbox cannot be set up; the message says what to install or change."""


@dataclass(frozen=True)
class SandboxPlan:
    """What exists inside the sandbox: `read_only` and `writable` host paths, at the same place,
    except `hidden` directories inside them, which show up empty."""

    read_only: tuple[Path, ...]
    writable: tuple[Path, ...]
    workdir: Path
    hidden: tuple[Path, ...] = ()

    def exposes(self, path: Path) -> Path | None:
        """The mount that shows `path` inside the sandbox (itself or an ancestor), or None."""
        target = path.resolve()
        for mounted in (*self.read_only, *self.writable):
            root = mounted.resolve()
            if target == root or root in target.parents:
                return mounted
        return None


def system_arguments(
    system_paths: Sequence[Path] = SYSTEM_PATHS, resolv_conf: Path = RESOLV_CONF
) -> list[str]:
    arguments: list[str] = []
    for path in system_paths:
        if path.is_symlink():
            arguments += ["--symlink", str(path.readlink()), str(path)]
        elif path.is_dir():
            arguments += ["--ro-bind", str(path), str(path)]
    if resolv_conf.is_symlink() and resolv_conf.exists():
        target = resolv_conf.resolve()
        arguments += ["--ro-bind", str(target), str(target)]
    return arguments


def bwrap_command(
    bwrap: Path, plan: SandboxPlan, command: Sequence[str], system: Sequence[str]
) -> list[str]:
    """The argv that runs `command` inside the sandbox `plan` describes."""
    arguments = [
        str(bwrap),
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        *system,
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",  # noqa: S108 - a fresh, private tmpfs inside the sandbox
    ]
    # Writable first: a read-only path inside a writable one (OpenClaw's config) stays read-only.
    for path in plan.writable:
        arguments += ["--bind", str(path), str(path)]
    for path in plan.read_only:
        arguments += ["--ro-bind", str(path), str(path)]
    for path in plan.hidden:
        arguments += ["--tmpfs", str(path)]
    return [*arguments, "--chdir", str(plan.workdir), "--", *command]


def find_bwrap(which: Callable[[str], str | None] = shutil.which) -> Path:
    found = which("bwrap")
    if found is None:
        raise SandboxError(
            "OPENCLAW_SANDBOX=bwrap: bubblewrap is not installed, and without it OpenClaw and "
            "its exec tool could read the stack's tokens, audit key and log; install it "
            "(apt-get install bubblewrap), or set OPENCLAW_SANDBOX=off to run OpenClaw "
            "unisolated"
        )
    return Path(found)


def probe(bwrap: Path, plan: SandboxPlan, system: Sequence[str]) -> None:
    """Start `true` in the same sandbox: raise `SandboxError` with bwrap's reason if it fails.

    A kernel without unprivileged user namespaces, or a container that forbids them, fails
    here, before OpenClaw is started, instead of OpenClaw being started without isolation.
    """
    command = bwrap_command(bwrap, plan, ["true"], system)
    try:
        completed = subprocess.run(  # noqa: S603 - our own argv, no shell
            command,
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SandboxError(f"OPENCLAW_SANDBOX=bwrap: bubblewrap did not run: {exc}") from exc
    if completed.returncode != 0:
        raise SandboxError(
            f"OPENCLAW_SANDBOX=bwrap: bubblewrap cannot create the sandbox here "
            f"({completed.stderr.strip() or f'exit {completed.returncode}'}); allow user "
            "namespaces (sysctl kernel.unprivileged_userns_clone=1), or set "
            "OPENCLAW_SANDBOX=off to run OpenClaw unisolated"
        )


def require_hidden(plan: SandboxPlan, secrets: dict[str, Path]) -> None:
    """Raise `SandboxError` when a secret (setting name -> path) would be mounted inside."""
    for setting, path in secrets.items():
        mount = plan.exposes(path)
        if mount is not None:
            raise SandboxError(
                f"{setting}: {path} would be readable by OpenClaw, inside its sandbox through "
                f"{mount}; keep it outside the directories OpenClaw is given"
            )
