"""`up`: OpenClaw, its model gateway and the proxy as supervised children, stopped together.

Order matters. The model gateway starts first (OpenClaw's model provider, holding the real
provider key; with no model configured, an in-process endpoint that explains how to configure
one takes its place) and must answer `/health`; then OpenClaw, which must answer `/readyz`; then
the proxy (a child running `openclaw-secure-stack serve`) with the gateway token, which must
answer `/ready`. On stop the proxy goes first so no client request is forwarded to a gateway that
is shutting down, and the model gateway last. One `up` per data directory: a lock file says which
process owns it, and `status` reads the state file that the owner writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from openclaw_secure_stack.model_gateway.config import ProviderConfig, http_host
from openclaw_secure_stack.runtime.credentials import (
    Credentials,
    new_token,
    prepare_credentials,
    secrets_dir,
    write_private,
)
from openclaw_secure_stack.runtime.gateway_config import (
    GatewayPaths,
    ModelProvider,
    PluginSpec,
    build_config,
    gateway_environment,
    write_config,
)
from openclaw_secure_stack.runtime.install import (
    OpenClawInstall,
    ensure_installed,
    install_plugin,
)
from openclaw_secure_stack.runtime.no_model import NoModelEndpoint
from openclaw_secure_stack.runtime.node import (
    NodeRuntime,
    find_node,
    format_version,
    require_supported_node,
)
from openclaw_secure_stack.runtime.sandbox import (
    SandboxPlan,
    bwrap_command,
    find_bwrap,
    probe,
    require_hidden,
    system_arguments,
)
from openclaw_secure_stack.runtime.skill_gate import gate_skills
from openclaw_secure_stack.runtime.skill_quarantine import (
    QuarantinedSkill,
    bundled_skill_dirs,
    move_to_vault,
    quarantined_skills,
    vault_dir,
)
from openclaw_secure_stack.runtime.supervisor import ChildSpec, Supervisor
from openclaw_secure_stack.settings import Settings, SettingsError

PROMPT_GUARD_ID = "prompt-guard"
GATEWAY_READY_TIMEOUT = 120.0
PROXY_READY_TIMEOUT = 60.0
MODEL_GATEWAY_READY_TIMEOUT = 60.0
# What the proxy child must not hold: it never calls the model. (Its settings may still read
# them from `.env`, as every stack process does; none of them is inside OpenClaw's sandbox.)
PROXY_WITHHELD = ("MODEL_API_KEY", "MODEL_GATEWAY_KEY")
# What the model gateway child must not hold: it never calls OpenClaw nor checks client tokens.
MODEL_GATEWAY_WITHHELD = ("OPENCLAW_GATEWAY_TOKEN", "CLIENT_TOKENS", "CLIENT_TOKENS_FILE")
# Model calls must finish inside this; an agent run that hangs is cut off rather than held open.
AGENT_TIMEOUT_SECONDS = 120
# A tool call that needs approval waits this long for a person, inside the agent's run time.
APPROVAL_WAIT_SECONDS = 90


class StackError(Exception):
    """`up` cannot start; the message says what to change."""


@dataclass(frozen=True)
class RunState:
    """What a running `up` publishes for `status`."""

    up_pid: int
    gateway_pid: int
    proxy_pid: int
    model_gateway_pid: int  # 0 when no model is configured (no gateway runs)
    proxy_url: str
    gateway_url: str
    model_gateway_url: str  # the /v1 base URL OpenClaw calls; "" when no model is configured
    data_dir: str
    openclaw_version: str
    node_version: str
    model: str  # model, provider kind and host: never the key
    started_at: str


def install_root(settings: Settings) -> Path:
    return (settings.openclaw_install_dir or settings.data_dir / "runtime").resolve()


def gateway_paths(settings: Settings) -> GatewayPaths:
    return GatewayPaths(settings.data_dir.resolve() / "openclaw")


def run_dir(data_dir: Path) -> Path:
    return data_dir.resolve() / "run"


def state_path(data_dir: Path) -> Path:
    return run_dir(data_dir) / "state.json"


def internal_token_path(data_dir: Path) -> Path:
    """The internal API's token for this start: for the stack's own services, outside
    OpenClaw's sandbox (run/ is never mounted there)."""
    return run_dir(data_dir) / "internal-api-token"


def write_internal_token(data_dir: Path, token: str) -> None:
    write_private(internal_token_path(data_dir), token + "\n")


def lock_path(data_dir: Path) -> Path:
    return run_dir(data_dir) / "up.lock"


def read_state(data_dir: Path) -> RunState | None:
    """The state a running `up` wrote, or None when no `up` owns `data_dir`."""
    if not is_locked(lock_path(data_dir)):
        return None
    try:
        return RunState(**json.loads(state_path(data_dir).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def is_locked(path: Path) -> bool:
    """Whether another process holds the `up` lock on `path`."""
    try:
        handle = path.open("a")
    except OSError:
        return False
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


@contextlib.contextmanager
def owner_lock(data_dir: Path) -> Iterator[IO[str]]:
    """Hold the one-`up`-per-data-dir lock, or raise `StackError` naming the owner."""
    path = lock_path(data_dir)
    # Tokens, transcripts and logs live here: private to the user from the start.
    data_dir.resolve().mkdir(mode=0o700, parents=True, exist_ok=True)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise StackError(
            f"another `up` is already running for {data_dir.resolve()}: "
            "see `openclaw-secure-stack status`, or use a different DATA_DIR"
        ) from None
    try:
        yield handle
    finally:
        handle.close()


def listen_ports(settings: Settings) -> list[tuple[str, str, int]]:
    """(setting, host, port) of every port `up` listens on."""
    ports = [
        ("OPENCLAW_PORT", "127.0.0.1", settings.openclaw_port),
        ("PROXY_PORT", settings.proxy_host, settings.proxy_port),
    ]
    if settings.model_base_url is not None:
        ports.append(
            ("MODEL_GATEWAY_PORT", settings.model_gateway_host, settings.model_gateway_port)
        )
    return ports


def port_in_use(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def probe_host(host: str) -> str:
    """Where to reach a server bound to `host` from this machine."""
    return "127.0.0.1" if host in ("0.0.0.0", "", "::") else host  # noqa: S104 - a comparison


def prompt_guard_plugin(settings: Settings) -> PluginSpec:
    """The prompt-guard plugin with absolute paths to its rules and quarantine list."""
    return PluginSpec(
        PROMPT_GUARD_ID,
        settings.prompt_guard_dir.resolve(),
        {
            "rulesPath": str(settings.indirect_rules_path.resolve()),
            "quarantinePath": str(settings.quarantine_list_path.resolve()),
        },
    )


# The plugin's own parser checks the list, so `up` and `doctor` refuse exactly what it refuses.
_QUARANTINE_CHECK = """
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
const [plugin, list] = process.argv.slice(1);
try {
  const { Quarantine } = await import(pathToFileURL(`${plugin}/src/quarantine.ts`).href);
  const parsed = Quarantine.parse(JSON.parse(readFileSync(list, "utf8")));
  process.stdout.write(JSON.stringify({ entries: parsed.entries.length }));
} catch (error) {
  const message = error instanceof Error ? error.message : `${error}`;
  process.stdout.write(JSON.stringify({ error: message }));
}
"""


def load_quarantine_list(settings: Settings, node: NodeRuntime) -> int:
    """How many entries the quarantine list holds, as the prompt-guard plugin parses it; a list
    the plugin would refuse is a SettingsError naming QUARANTINE_LIST_PATH."""
    plugin, path = prompt_guard_plugin(settings).path, settings.quarantine_list_path
    argv = [str(node.node), "--input-type=module", "-e", _QUARANTINE_CHECK, str(plugin), str(path)]
    try:
        completed = subprocess.run(  # noqa: S603 - our own node and script, no shell
            argv, capture_output=True, text=True, timeout=30, check=False
        )
        result = json.loads(completed.stdout)
    except (OSError, subprocess.TimeoutExpired, ValueError) as exc:
        raise StackError(f"cannot run the plugin's quarantine list parser: {exc}") from exc
    if "error" in result:
        raise SettingsError(
            f"QUARANTINE_LIST_PATH: {path}: {result['error']} (fix it, or unset the variable for "
            "the packaged empty list)"
        )
    return int(result["entries"])


def sandbox_plan(
    node: NodeRuntime,
    install: OpenClawInstall,
    plugin: PluginSpec,
    paths: GatewayPaths,
    skills: Sequence[QuarantinedSkill],
) -> SandboxPlan:
    """What OpenClaw needs, and nothing else: Node, its install (quarantined bundled skills
    hidden), the plugin and the files its config names, and its own config, read-only; its own
    directory writable."""
    return SandboxPlan(
        read_only=(
            node.node.resolve().parents[1],
            install.root.resolve(),
            plugin.path.resolve(),
            Path(plugin.config["rulesPath"]).resolve(),
            # The directory, not the file: the list is replaced by rename while OpenClaw runs.
            Path(plugin.config["quarantinePath"]).resolve().parent,
            # OpenClaw applies edits to its config live: `exec` must not drop the plugin or
            # re-enable a quarantined skill by rewriting it.
            paths.config_path.resolve(),
        ),
        writable=(paths.root.resolve(),),
        workdir=paths.root.resolve(),
        hidden=tuple(bundled_skill_dirs(install.entry.parent, skills)),
    )


def stack_secrets(settings: Settings) -> dict[str, Path]:
    """The stack's own files OpenClaw must not read, by the setting that places them."""
    data_dir = settings.data_dir.resolve()
    secrets: dict[str, Path] = {
        "DATA_DIR (secrets/)": secrets_dir(data_dir),
        "DATA_DIR (run/)": run_dir(data_dir),
        "AUDIT_LOG_PATH": settings.audit_log_path.resolve().parent,
        "DATA_DIR (quarantine/)": vault_dir(data_dir),
        ".env": Path(".env").resolve(),
    }
    if settings.audit_anchor_path is not None:
        # Rewritten by rename: its whole directory must be out of reach, as the log's is.
        secrets["AUDIT_ANCHOR_PATH"] = settings.audit_anchor_path.resolve().parent
    if settings.client_tokens_file is not None:
        secrets["CLIENT_TOKENS_FILE"] = settings.client_tokens_file.resolve()
    # The phone relays' replay set: a command that could edit it could replay a message.
    secrets["WEBHOOK_REPLAY_PATH"] = settings.webhook_replay_file().resolve().parent
    # Approvals: a command that could write them could approve its own calls.
    secrets["GOVERNANCE_DB_PATH"] = settings.governance_config().db_path.resolve().parent
    return secrets


def governance_plugin_config(settings: Settings, plugin_token: str) -> dict[str, object]:
    """Where the prompt-guard plugin asks for decisions: the model gateway's internal API,
    with a token that opens only its governance routes."""
    return {
        "url": model_gateway_url(settings),
        "token": plugin_token,
        "approvalWaitMs": APPROVAL_WAIT_SECONDS * 1000,
    }


def model_gateway_url(settings: Settings) -> str:
    return f"http://{http_host(settings.model_gateway_host)}:{settings.model_gateway_port}"


def model_gateway_environment(
    settings: Settings,
    credentials: Credentials,
    provider: ProviderConfig,
    gateway_key: str,
    plugin_token: str,
    base: dict[str, str],
) -> dict[str, str]:
    """The model gateway child's settings: the only process given the provider key."""
    env = {name: value for name, value in base.items() if name not in MODEL_GATEWAY_WITHHELD}
    env.update(
        MODEL_GATEWAY_KEY=gateway_key,
        INTERNAL_API_TOKEN=credentials.internal_token,
        GOVERNANCE_PLUGIN_TOKEN=plugin_token,
        GOVERNANCE_DB_PATH=str(settings.governance_config().db_path.resolve()),
        DATA_DIR=str(settings.data_dir.resolve()),
        MODEL_API_KEY=provider.api_key,
        MODEL_BASE_URL=provider.base_url,
        MODEL_PROVIDER=provider.kind,
        MODEL_NAME=provider.model,
        MODEL_GATEWAY_HOST=settings.model_gateway_host,
        MODEL_GATEWAY_PORT=str(settings.model_gateway_port),
        AUDIT_KEY=credentials.audit_key,
        AUDIT_LOG_PATH=str(settings.audit_log_path.resolve()),
    )
    return env


def proxy_environment(
    settings: Settings, credentials: Credentials, base: dict[str, str]
) -> dict[str, str]:
    """The proxy child's settings: ours, with the upstream and secrets `up` decided."""
    env = {name: value for name, value in base.items() if name not in PROXY_WITHHELD}
    env.update(
        UPSTREAM_URL=f"http://127.0.0.1:{settings.openclaw_port}",
        OPENCLAW_GATEWAY_TOKEN=credentials.gateway_token,
        INTERNAL_API_TOKEN=credentials.internal_token,
        AUDIT_KEY=credentials.audit_key,
        AUDIT_LOG_PATH=str(settings.audit_log_path.resolve()),
        GOVERNANCE_DB_PATH=str(settings.governance_config().db_path.resolve()),
        PROXY_HOST=settings.proxy_host,
        PROXY_PORT=str(settings.proxy_port),
    )
    if credentials.client_tokens_file is not None:
        env["CLIENT_TOKENS_FILE"] = str(credentials.client_tokens_file)
    return env


def cli_command(subcommand: str) -> list[str]:
    """Run one of the CLI's commands with this interpreter, so the child uses the same
    environment."""
    program = (
        "from openclaw_secure_stack.cli.main import app; app(prog_name='openclaw-secure-stack')"
    )
    return [sys.executable, "-c", program, subcommand]


class Stack:
    """Start, watch and stop the model gateway, OpenClaw and the proxy for one `up`."""

    def __init__(self, settings: Settings, report: Callable[[str], None]) -> None:
        self._settings = settings
        self._report = report
        self._no_model: NoModelEndpoint | None = None
        self._model_gateway: Supervisor | None = None
        self._gateway: Supervisor | None = None
        self._proxy: Supervisor | None = None
        self._state: RunState | None = None
        self.credentials: Credentials | None = None

    def _preflight(self) -> tuple[NodeRuntime, str]:
        settings = self._settings
        node = find_node()
        version = format_version(require_supported_node(node.node))
        for setting, host, port in listen_ports(settings):
            if port_in_use(host, port):
                raise StackError(
                    f"{setting}: port {port} on {host} is already in use; stop what uses it "
                    f"or choose another port ({setting}=...)"
                )
        return node, version

    async def start(self) -> RunState:
        """Bring everything up; on failure, everything started so far is stopped again."""
        settings = self._settings = await asyncio.to_thread(
            gate_skills, self._settings, self._report
        )
        provider = settings.model_provider_config()
        node, node_version = self._preflight()
        plugin = prompt_guard_plugin(settings)
        install = await asyncio.to_thread(
            ensure_installed, install_root(settings), node, progress=self._report
        )
        installed_plugin = await asyncio.to_thread(
            install_plugin, plugin.path, node, install_root(settings), progress=self._report
        )
        plugin = replace(plugin, path=installed_plugin)
        self.credentials = credentials = prepare_credentials(settings)
        write_internal_token(settings.data_dir, credentials.internal_token)
        paths = gateway_paths(settings)
        paths.create()
        skills = quarantined_skills(settings.quarantine_list_path)
        for move in move_to_vault(paths.root, vault_dir(settings.data_dir), skills):
            self._report(
                f"quarantined skill moved out of reach: {move.source} -> {move.destination}"
            )
        # OpenClaw (and so its exec tool) only ever holds this key, good only at the gateway,
        # and the plugin's token, good only for asking the gateway for governance decisions.
        gateway_key, plugin_token = new_token(), new_token()
        governance = governance_plugin_config(settings, plugin_token)
        plugin = replace(plugin, config={**plugin.config, "governance": governance})
        if provider is None:
            self._no_model = NoModelEndpoint()
            model_url = await self._no_model.start()
        else:
            self._model_gateway = Supervisor(
                self._model_gateway_spec(credentials, provider, gateway_key, plugin_token),
                report=self._report,
                on_restart=self._write_state,
            )
            self._report(
                f"starting the model gateway on {model_gateway_url(settings)} -> {provider.summary}"
            )
            await self._model_gateway.start()
            model_url = f"{model_gateway_url(settings)}/v1"
        config = build_config(
            port=settings.openclaw_port,
            gateway_token=credentials.gateway_token,
            paths=paths,
            provider=ModelProvider(model_url, gateway_key, settings.model_name),
            plugins=[plugin],
            timeout_seconds=AGENT_TIMEOUT_SECONDS,
            disabled_skills=sorted({skill.name for skill in skills}),
        )
        write_config(paths.config_path, config)
        self._gateway = Supervisor(
            await self._gateway_spec(node, install, plugin, paths, skills),
            report=self._report,
            on_restart=self._write_state,
        )
        self._report(f"starting OpenClaw {install.version} on 127.0.0.1:{settings.openclaw_port}")
        await self._gateway.start()
        self._proxy = Supervisor(
            self._proxy_spec(credentials), report=self._report, on_restart=self._write_state
        )
        self._report(f"starting the proxy on {settings.proxy_host}:{settings.proxy_port}")
        await self._proxy.start()
        self._state = RunState(
            up_pid=os.getpid(),
            gateway_pid=0,
            proxy_pid=0,
            model_gateway_pid=0,
            proxy_url=f"http://{probe_host(settings.proxy_host)}:{settings.proxy_port}",
            gateway_url=f"http://127.0.0.1:{settings.openclaw_port}",
            model_gateway_url=model_url if provider is not None else "",
            data_dir=str(settings.data_dir.resolve()),
            openclaw_version=install.version,
            node_version=node_version,
            model=provider.summary if provider is not None else "not configured",
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        return self._write_state()

    def _write_state(self) -> RunState:
        """Publish the current process ids for `status` (again after every restart)."""
        assert self._state is not None, "state is written only after start"
        self._state = replace(
            self._state,
            gateway_pid=_pid(self._gateway),
            proxy_pid=_pid(self._proxy),
            model_gateway_pid=_pid(self._model_gateway),
        )
        path = state_path(self._settings.data_dir)
        path.write_text(json.dumps(asdict(self._state), indent=2) + "\n", encoding="utf-8")
        return self._state

    def _model_gateway_spec(
        self,
        credentials: Credentials,
        provider: ProviderConfig,
        gateway_key: str,
        plugin_token: str,
    ) -> ChildSpec:
        settings = self._settings
        return ChildSpec(
            name="model gateway",
            argv=cli_command("model-gateway"),
            env=model_gateway_environment(
                settings, credentials, provider, gateway_key, plugin_token, dict(os.environ)
            ),
            cwd=Path.cwd(),
            ready_url=f"{model_gateway_url(settings)}/health",
            log_path=settings.data_dir.resolve() / "logs" / "model-gateway.out.log",
            ready_timeout=MODEL_GATEWAY_READY_TIMEOUT,
        )

    async def _gateway_spec(
        self,
        node: NodeRuntime,
        install: OpenClawInstall,
        plugin: PluginSpec,
        paths: GatewayPaths,
        skills: Sequence[QuarantinedSkill],
    ) -> ChildSpec:
        settings = self._settings
        port = settings.openclaw_port
        argv = [str(node.node), str(install.entry), "gateway", "run", "--port", str(port)]
        sandboxed = settings.openclaw_sandbox == "bwrap"
        if sandboxed:
            plan = sandbox_plan(node, install, plugin, paths, skills)
            require_hidden(plan, stack_secrets(settings))
            bwrap = find_bwrap()
            system = system_arguments()
            await asyncio.to_thread(probe, bwrap, plan, system)
            argv = bwrap_command(bwrap, plan, argv, system)
        else:
            self._report(
                "warning: OPENCLAW_SANDBOX=off: OpenClaw and every command its exec tool runs "
                "can read the stack's tokens, audit key, audit log and quarantined skills"
            )
        return ChildSpec(
            name="OpenClaw",
            argv=argv,
            env=gateway_environment(paths, os.environ),
            cwd=paths.root,
            ready_url=f"http://127.0.0.1:{port}/readyz",
            log_path=paths.root / "logs" / "gateway.out.log",
            ready_timeout=GATEWAY_READY_TIMEOUT,
            signal_descendants=sandboxed,
        )

    def _proxy_spec(self, credentials: Credentials) -> ChildSpec:
        settings = self._settings
        return ChildSpec(
            name="proxy",
            argv=cli_command("serve"),
            env=proxy_environment(settings, credentials, dict(os.environ)),
            cwd=Path.cwd(),
            ready_url=f"http://{probe_host(settings.proxy_host)}:{settings.proxy_port}/ready",
            log_path=settings.data_dir.resolve() / "logs" / "proxy.out.log",
            ready_timeout=PROXY_READY_TIMEOUT,
        )

    async def watch(self) -> None:
        """Keep every child running; raises when one cannot be restarted."""
        supervisors = [
            s for s in (self._model_gateway, self._gateway, self._proxy) if s is not None
        ]
        await asyncio.gather(*(supervisor.watch() for supervisor in supervisors))

    async def stop(self) -> None:
        """Proxy first, then OpenClaw, then its model endpoint; idempotent."""
        for supervisor in (self._proxy, self._gateway, self._model_gateway):
            if supervisor is not None:
                await supervisor.stop()
        if self._no_model is not None:
            await self._no_model.stop()
            self._no_model = None
        for path in (state_path, internal_token_path):
            with contextlib.suppress(FileNotFoundError):
                path(self._settings.data_dir).unlink()


def _pid(supervisor: Supervisor | None) -> int:
    return supervisor.pid if supervisor is not None and supervisor.pid else 0
