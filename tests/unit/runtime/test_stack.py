"""The decisions `up` makes before starting anything: plugin, provider, proxy settings, lock."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import pytest

from openclaw_secure_stack.runtime.credentials import Credentials
from openclaw_secure_stack.runtime.gateway_config import GatewayPaths, PluginSpec
from openclaw_secure_stack.runtime.install import OpenClawInstall
from openclaw_secure_stack.runtime.node import NodeRuntime
from openclaw_secure_stack.runtime.sandbox import SandboxError, SandboxPlan, require_hidden
from openclaw_secure_stack.runtime.skill_quarantine import QuarantinedSkill
from openclaw_secure_stack.runtime.stack import (
    StackError,
    cli_command,
    internal_token_path,
    listen_ports,
    lock_path,
    model_gateway_environment,
    owner_lock,
    port_in_use,
    probe_host,
    prompt_guard_plugin,
    proxy_environment,
    read_state,
    sandbox_plan,
    stack_secrets,
    state_path,
    write_internal_token,
)
from openclaw_secure_stack.settings import Settings


def settings_for(tmp_path: Path, **values: object) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path / "data", **values)  # type: ignore[call-arg]


def test_prompt_guard_gets_absolute_rules_and_quarantine_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plugin config carries absolute paths, whatever the current directory is."""
    plugin_dir = tmp_path / "pg"
    plugin_dir.mkdir()
    (plugin_dir / "openclaw.plugin.json").write_text("{}")
    (tmp_path / "rules.json").write_text("{}")
    (tmp_path / "q.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    settings = settings_for(
        tmp_path,
        prompt_guard_dir=Path("pg"),
        indirect_rules_path=Path("rules.json"),
        quarantine_list_path=Path("q.json"),
    )
    plugin = prompt_guard_plugin(settings)
    assert plugin.plugin_id == "prompt-guard" and plugin.path == plugin_dir
    assert plugin.config == {
        "rulesPath": str(tmp_path / "rules.json"),
        "quarantinePath": str(tmp_path / "q.json"),
    }


CREDENTIALS = Credentials("gw-token", "k" * 64, Path("/tokens"), "client", "i" * 43)
# What `up`'s own environment may hold: the provider key among the stack's other secrets.
SHELL = {
    "PATH": "/bin",
    "CLIENT_TOKENS_FILE": "x",
    "CLIENT_TOKENS": "alice:token-abcdefghijklmnop",
    "OPENCLAW_GATEWAY_TOKEN": "shell-gw",
    "MODEL_API_KEY": "sk-real",
    "MODEL_GATEWAY_KEY": "stale-gateway-key-from-the-shell-0123",
}


def model_settings(tmp_path: Path, **values: object) -> Settings:
    return settings_for(
        tmp_path,
        model_base_url="https://llm.example/v1",
        model_api_key="sk-real",
        model_name="m",
        **values,
    )


def test_the_proxy_child_gets_the_gateway_and_secrets_up_decided(tmp_path: Path) -> None:
    """UPSTREAM_URL is the supervised gateway; tokens and key come from the credentials; the
    provider key and the model gateway's key are not in its environment."""
    settings = settings_for(tmp_path, openclaw_port=19999, upstream_url="http://elsewhere:1")
    env = proxy_environment(settings, CREDENTIALS, SHELL)
    assert env["UPSTREAM_URL"] == "http://127.0.0.1:19999"
    assert (env["OPENCLAW_GATEWAY_TOKEN"], env["AUDIT_KEY"]) == ("gw-token", "k" * 64)
    assert env["CLIENT_TOKENS_FILE"] == "/tokens"
    assert env["PATH"] == "/bin"
    assert Path(env["AUDIT_LOG_PATH"]).is_absolute()
    assert "MODEL_API_KEY" not in env and "MODEL_GATEWAY_KEY" not in env
    assert env["INTERNAL_API_TOKEN"] == "i" * 43


def test_the_model_gateway_child_alone_gets_the_provider_key(tmp_path: Path) -> None:
    """The gateway child: the provider (key included), the per-start gateway key, the proxy's
    audit log and key; not OpenClaw's gateway token nor the client tokens."""
    settings = model_settings(tmp_path, model_provider="anthropic", model_gateway_port=18081)
    provider = settings.model_provider_config()
    assert provider is not None
    env = model_gateway_environment(
        settings, CREDENTIALS, provider, "per-start-key", "plugin-token", SHELL
    )
    assert env["MODEL_API_KEY"] == "sk-real"
    assert env["MODEL_GATEWAY_KEY"] == "per-start-key"
    assert env["GOVERNANCE_PLUGIN_TOKEN"] == "plugin-token"
    assert env["GOVERNANCE_DB_PATH"] == str(settings.governance_config().db_path.resolve())
    assert env["INTERNAL_API_TOKEN"] == "i" * 43
    assert (env["MODEL_PROVIDER"], env["MODEL_BASE_URL"]) == ("anthropic", "https://llm.example/v1")
    assert (env["MODEL_GATEWAY_HOST"], env["MODEL_GATEWAY_PORT"]) == ("127.0.0.1", "18081")
    assert env["AUDIT_KEY"] == "k" * 64
    assert env["AUDIT_LOG_PATH"] == str(settings.audit_log_path.resolve())
    assert not {"OPENCLAW_GATEWAY_TOKEN", "CLIENT_TOKENS", "CLIENT_TOKENS_FILE"} & set(env)


def test_the_gateway_port_is_checked_only_with_a_model(tmp_path: Path) -> None:
    """Without a model no gateway runs, so MODEL_GATEWAY_PORT need not be free."""
    assert "MODEL_GATEWAY_PORT" not in {name for name, _, _ in listen_ports(settings_for(tmp_path))}
    ports = listen_ports(model_settings(tmp_path, model_gateway_host="::1"))
    assert ("MODEL_GATEWAY_PORT", "::1", 8081) in ports


def test_the_children_run_with_this_interpreter() -> None:
    """The children use the same Python environment as `up`, running a CLI command."""
    command = cli_command("model-gateway")
    assert command[0] == sys.executable and command[-1] == "model-gateway"


def test_the_internal_token_file_is_private_and_replaced(tmp_path: Path) -> None:
    """DATA_DIR/run/internal-api-token: 0600 from its creation, the new start's token replaces
    the last one, and it lies outside OpenClaw's sandbox (run/ is one of the hidden paths)."""
    data_dir = tmp_path / "data"
    with owner_lock(data_dir):
        write_internal_token(data_dir, "first-token")
        write_internal_token(data_dir, "second-token")
    path = internal_token_path(data_dir)
    assert path.read_text() == "second-token\n"
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []
    hidden = stack_secrets(settings_for(tmp_path))["DATA_DIR (run/)"]
    assert hidden in path.parents


def test_one_up_per_data_dir(tmp_path: Path) -> None:
    """A second owner lock on the same data dir fails and points at `status`."""
    with (
        owner_lock(tmp_path / "data"),
        pytest.raises(StackError, match="status"),
        owner_lock(tmp_path / "data"),
    ):
        pass
    with owner_lock(tmp_path / "data"):
        pass


def test_state_is_read_only_while_an_up_holds_the_lock(tmp_path: Path) -> None:
    """A state file left by a dead `up` does not make `status` say running."""
    data_dir = tmp_path / "data"
    with owner_lock(data_dir):
        state = {
            "up_pid": 1, "gateway_pid": 2, "proxy_pid": 3, "model_gateway_pid": 0,
            "proxy_url": "http://127.0.0.1:8080", "gateway_url": "http://127.0.0.1:18789",
            "model_gateway_url": "", "data_dir": str(data_dir),
            "openclaw_version": "2026.9.6", "node_version": "24.19.0", "model": "m",
            "started_at": "2026-01-01T00:00:00+00:00",
        }  # fmt: skip
        state_path(data_dir).write_text(json.dumps(state))
        running = read_state(data_dir)
        assert running is not None and running.gateway_pid == 2
    assert lock_path(data_dir).exists()
    assert read_state(data_dir) is None


@pytest.mark.parametrize(
    ("family", "host"), [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")]
)
def test_port_in_use_sees_a_listener(family: socket.AddressFamily, host: str) -> None:
    """A bound port is reported busy (IPv4 and IPv6 loopback); it is free once closed."""
    with socket.socket(family) as listener:
        listener.bind((host, 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert port_in_use(host, port)
    assert not port_in_use(host, port)


def test_a_wildcard_bind_is_probed_on_loopback() -> None:
    """0.0.0.0 is reached at 127.0.0.1; a specific address as is."""
    assert probe_host("0.0.0.0") == "127.0.0.1"
    assert probe_host("10.0.0.5") == "10.0.0.5"


def plugin_files(tmp_path: Path) -> dict[str, Path]:
    """A plugin folder, rules and quarantine list (in a folder of its own, as `up` writes it)
    where settings accept them."""
    (tmp_path / "pg").mkdir(exist_ok=True)
    (tmp_path / "pg" / "openclaw.plugin.json").write_text("{}")
    (tmp_path / "guard").mkdir(exist_ok=True)
    for name in ("rules.json", "guard/q.json"):
        (tmp_path / name).write_text("{}")
    return {
        "prompt_guard_dir": tmp_path / "pg",
        "indirect_rules_path": tmp_path / "rules.json",
        "quarantine_list_path": tmp_path / "guard" / "q.json",
    }


def token_file(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("alice:token-abcdefghijklmnop-1\n")
    path.chmod(0o600)
    return path


def default_plan(tmp_path: Path, settings: Settings) -> SandboxPlan:
    node = NodeRuntime(tmp_path / "wheel" / "bin" / "node", tmp_path / "npm-cli.js")
    install = OpenClawInstall(tmp_path / "runtime" / "openclaw-1", "hash", "2026.9.6")
    package = install.entry.parent
    (package / "skills" / "evil").mkdir(parents=True)
    (package / "skills" / "evil" / "SKILL.md").write_text("---\nname: evil\n---\n")
    paths = GatewayPaths(settings.data_dir.resolve() / "openclaw")
    plugin = PluginSpec(
        "prompt-guard",
        settings.prompt_guard_dir,
        {
            "rulesPath": str(settings.indirect_rules_path),
            "quarantinePath": str(settings.quarantine_list_path),
        },
    )
    return sandbox_plan(node, install, plugin, paths, [QuarantinedSkill("evil", None)])


def test_the_sandbox_mounts_only_what_openclaw_needs(tmp_path: Path) -> None:
    """Node, the install, the plugin, its rules and the quarantine list's folder (the list is
    replaced by rename while OpenClaw runs) read-only; its dir writable."""
    settings = settings_for(tmp_path, **plugin_files(tmp_path))
    plan = default_plan(tmp_path, settings)
    root = tmp_path.resolve()
    assert plan.read_only == (
        root / "wheel",
        root / "runtime" / "openclaw-1",
        root / "pg",
        root / "rules.json",
        root / "guard",
        root / "data" / "openclaw" / "openclaw.json",
    )
    assert plan.writable == (root / "data" / "openclaw",)
    assert plan.hidden == (
        root / "runtime" / "openclaw-1" / "node_modules" / "openclaw" / "skills" / "evil",
    )


def test_with_default_settings_no_secret_is_inside_the_sandbox(tmp_path: Path) -> None:
    """Secrets, run state, the vault, the audit log directory and .env are all outside."""
    settings = settings_for(
        tmp_path,
        audit_log_path=tmp_path / "data" / "audit" / "audit.jsonl",
        audit_anchor_path=tmp_path / "anchors" / "audit.anchor",
        client_tokens_file=token_file(tmp_path / "tokens"),
    )
    secrets = stack_secrets(settings)
    assert set(secrets) == {
        "DATA_DIR (secrets/)",
        "DATA_DIR (run/)",
        "DATA_DIR (quarantine/)",
        "AUDIT_LOG_PATH",
        "AUDIT_ANCHOR_PATH",
        ".env",
        "CLIENT_TOKENS_FILE",
        "GOVERNANCE_DB_PATH",
        "WEBHOOK_REPLAY_PATH",
    }
    require_hidden(default_plan(tmp_path, settings), secrets)


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("audit_log_path", "data/openclaw/workspace/audit.jsonl"),
        ("audit_anchor_path", "data/openclaw/audit.anchor"),
        ("client_tokens_file", "data/openclaw/state/tokens"),
        ("client_tokens_file", "pg/tokens"),
        ("webhook_replay_path", "data/openclaw/state/replay.sqlite"),
    ],
)
def test_a_secret_placed_where_openclaw_can_read_it_stops_up(
    tmp_path: Path, setting: str, value: str
) -> None:
    """Putting the audit log or a token file in OpenClaw's directory or the plugin is refused."""
    files = plugin_files(tmp_path)
    target = tmp_path / value
    if setting == "client_tokens_file":
        token_file(target)
    settings = settings_for(tmp_path, **{**files, setting: target})
    with pytest.raises(SandboxError, match=setting.upper()):
        require_hidden(default_plan(tmp_path, settings), stack_secrets(settings))
