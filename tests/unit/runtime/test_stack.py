"""The decisions `up` makes before starting anything: plugin, provider, proxy settings, lock."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import pytest

from openclaw_secure_stack.runtime.credentials import Credentials
from openclaw_secure_stack.runtime.stack import (
    NO_KEY,
    StackError,
    lock_path,
    model_provider,
    owner_lock,
    port_in_use,
    probe_host,
    prompt_guard_plugin,
    proxy_command,
    proxy_environment,
    read_state,
    state_path,
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


def test_without_a_model_url_the_explaining_endpoint_is_used(tmp_path: Path) -> None:
    """No MODEL_BASE_URL: the provider is the fallback URL with a placeholder key."""
    provider = model_provider(settings_for(tmp_path), "http://127.0.0.1:1/v1")
    assert (provider.base_url, provider.api_key) == ("http://127.0.0.1:1/v1", NO_KEY)


def test_a_configured_model_is_used_as_is(tmp_path: Path) -> None:
    """MODEL_BASE_URL, MODEL_API_KEY and MODEL_NAME go to OpenClaw's provider entry."""
    settings = settings_for(
        tmp_path, model_base_url="https://llm.example/v1", model_api_key="k", model_name="m"
    )
    provider = model_provider(settings, "http://unused")
    assert (provider.base_url, provider.api_key, provider.model) == (
        "https://llm.example/v1",
        "k",
        "m",
    )


def test_the_proxy_child_gets_the_gateway_and_secrets_up_decided(tmp_path: Path) -> None:
    """UPSTREAM_URL is the supervised gateway; tokens and key come from the credentials."""
    settings = settings_for(tmp_path, openclaw_port=19999, upstream_url="http://elsewhere:1")
    credentials = Credentials("gw", "k" * 64, tmp_path / "tokens", "client")
    env = proxy_environment(settings, credentials, {"PATH": "/bin", "CLIENT_TOKENS_FILE": "x"})
    assert env["UPSTREAM_URL"] == "http://127.0.0.1:19999"
    assert (env["OPENCLAW_GATEWAY_TOKEN"], env["AUDIT_KEY"]) == ("gw", "k" * 64)
    assert env["CLIENT_TOKENS_FILE"] == str(tmp_path / "tokens")
    assert env["PATH"] == "/bin"
    assert Path(env["AUDIT_LOG_PATH"]).is_absolute()


def test_the_proxy_runs_with_this_interpreter() -> None:
    """The child uses the same Python environment as `up`, running the `serve` command."""
    command = proxy_command()
    assert command[0] == sys.executable and command[-1] == "serve"


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
            "up_pid": 1, "gateway_pid": 2, "proxy_pid": 3, "proxy_url": "http://127.0.0.1:8080",
            "gateway_url": "http://127.0.0.1:18789", "data_dir": str(data_dir),
            "openclaw_version": "2026.9.6", "node_version": "24.19.0", "model": "m",
            "started_at": "2026-01-01T00:00:00+00:00",
        }  # fmt: skip
        state_path(data_dir).write_text(json.dumps(state))
        running = read_state(data_dir)
        assert running is not None and running.gateway_pid == 2
    assert lock_path(data_dir).exists()
    assert read_state(data_dir) is None


def test_port_in_use_sees_a_listener() -> None:
    """A bound port is reported busy; it is free once closed."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert port_in_use("127.0.0.1", port)
    assert not port_in_use("127.0.0.1", port)


def test_a_wildcard_bind_is_probed_on_loopback() -> None:
    """0.0.0.0 is reached at 127.0.0.1; a specific address as is."""
    assert probe_host("0.0.0.0") == "127.0.0.1"
    assert probe_host("10.0.0.5") == "10.0.0.5"
