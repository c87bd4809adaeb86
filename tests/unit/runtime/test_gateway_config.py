"""The OpenClaw config document and environment the stack runs the gateway with."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from openclaw_secure_stack.runtime.gateway_config import (
    GatewayPaths,
    ModelProvider,
    PluginSpec,
    build_config,
    gateway_environment,
    write_config,
)

PROVIDER = ModelProvider("http://127.0.0.1:9999/v1", "provider-key", "some-model")


def config_for(tmp_path: Path, plugins: list[PluginSpec] | None = None) -> dict:
    return build_config(
        port=18789,
        gateway_token="gw-token",
        paths=GatewayPaths(tmp_path / "oc"),
        provider=PROVIDER,
        plugins=plugins or [],
        timeout_seconds=77,
    )


def test_gateway_listens_on_loopback_with_the_token_and_the_chat_endpoint(tmp_path: Path) -> None:
    """Local mode, loopback bind, token auth and the OpenAI-compatible endpoint are set."""
    gateway = config_for(tmp_path)["gateway"]
    assert gateway == {
        "mode": "local",
        "port": 18789,
        "bind": "loopback",
        "auth": {"mode": "token", "token": "gw-token"},
        "http": {"endpoints": {"chatCompletions": {"enabled": True}}},
    }


def test_the_only_model_provider_is_the_configured_one(tmp_path: Path) -> None:
    """Providers are replaced, not merged, and the default model points at ours."""
    config = config_for(tmp_path)
    assert config["models"]["mode"] == "replace"
    (provider_id, provider), *others = config["models"]["providers"].items()
    assert not others
    assert provider["baseUrl"] == PROVIDER.base_url and provider["apiKey"] == "provider-key"
    assert provider["api"] == "openai-completions"
    assert config["agents"]["defaults"]["model"]["primary"] == f"{provider_id}/some-model"


def test_background_model_calls_are_off_and_runs_have_a_time_limit(tmp_path: Path) -> None:
    """Heartbeat, autonomous skill review and memory dreaming are off; timeoutSeconds is set."""
    config = config_for(tmp_path)
    defaults = config["agents"]["defaults"]
    assert defaults["heartbeat"] == {"every": "0m"}
    assert defaults["timeoutSeconds"] == 77
    assert config["skills"]["workshop"]["autonomous"]["mode"] == "off"
    assert config["plugins"]["entries"]["memory-core"]["config"]["dreaming"]["enabled"] is False


def test_workspace_and_log_file_are_absolute_paths_under_the_root(tmp_path: Path) -> None:
    """OpenClaw writes nowhere else: workspace and log file live under the gateway root."""
    config = config_for(tmp_path)
    root = (tmp_path / "oc").resolve()
    assert Path(config["agents"]["defaults"]["workspace"]) == root / "workspace"
    assert Path(config["logging"]["file"]) == root / "logs" / "openclaw.log"


def test_a_plugin_is_allowed_loaded_from_its_absolute_folder_and_configured(
    tmp_path: Path,
) -> None:
    """The plugin is the only allowed one, loaded by absolute path, with its config."""
    plugin = PluginSpec("prompt-guard", tmp_path / "pg", {"rulesPath": "/r.json"})
    plugins = config_for(tmp_path, [plugin])["plugins"]
    assert plugins["allow"] == ["prompt-guard"]
    assert plugins["load"] == {"paths": [str((tmp_path / "pg").resolve())]}
    assert plugins["entries"]["prompt-guard"] == {
        "enabled": True,
        "config": {"rulesPath": "/r.json"},
    }


def test_without_plugins_there_is_no_allowlist_or_load_path(tmp_path: Path) -> None:
    """Omitting plugins leaves only the memory-core settings."""
    plugins = config_for(tmp_path)["plugins"]
    assert set(plugins) == {"entries"}


def test_quarantined_skills_are_disabled_by_name(tmp_path: Path) -> None:
    """Each name gets `enabled: false`; without any, there is no entries section."""
    config = build_config(
        port=1,
        gateway_token="t",
        paths=GatewayPaths(tmp_path / "oc"),
        provider=PROVIDER,
        disabled_skills=["evil-skill", "other"],
    )
    assert config["skills"] == {
        "workshop": {"autonomous": {"mode": "off"}},
        "entries": {"evil-skill": {"enabled": False}, "other": {"enabled": False}},
    }
    assert "entries" not in config_for(tmp_path)["skills"]


def test_environment_isolates_state_and_disables_network_features(tmp_path: Path) -> None:
    """Home, state and config point under the root; bonjour, auto-update and online are off."""
    paths = GatewayPaths(tmp_path / "oc")
    env = gateway_environment(paths, {"PATH": "/usr/bin", "OPENCLAW_HOME": "/root"})
    root = str((tmp_path / "oc").resolve())
    assert env == {
        "PATH": "/usr/bin",
        "HOME": f"{root}/home",
        "OPENCLAW_HOME": f"{root}/home",
        "OPENCLAW_STATE_DIR": f"{root}/state",
        "OPENCLAW_CONFIG_PATH": f"{root}/openclaw.json",
        "TMPDIR": f"{root}/tmp",
        "OPENCLAW_DISABLE_BONJOUR": "1",
        "OPENCLAW_NO_AUTO_UPDATE": "1",
        "OPENCLAW_OFFLINE": "1",
    }


@pytest.mark.parametrize(
    "name",
    [
        "AUDIT_KEY",
        "CLIENT_TOKENS",
        "CLIENT_TOKENS_FILE",
        "MODEL_API_KEY",
        "OPENCLAW_GATEWAY_TOKEN",
        "AWS_SECRET_ACCESS_KEY",
        "GITHUB_TOKEN",
        "NODE_OPTIONS",
        "SSH_AUTH_SOCK",
        "HTTPS_PROXY",
        "path",
        "LC",
        "XLC_ALL",
    ],
)
def test_environment_passes_nothing_outside_the_allowlist(tmp_path: Path, name: str) -> None:
    """Stack secrets, the user's tokens, code-loading Node options and look-alike names stay out."""
    env = gateway_environment(GatewayPaths(tmp_path / "oc"), {name: "secret-value-1234"})
    assert name not in env
    assert "secret-value-1234" not in env.values()


def test_environment_keeps_locale_time_zone_and_ca_bundle(tmp_path: Path) -> None:
    """LANG, LANGUAGE, every LC_*, TZ and NODE_EXTRA_CA_CERTS pass unchanged; HOME is replaced."""
    base = {
        "LANG": "C.UTF-8",
        "LANGUAGE": "en",
        "LC_ALL": "C.UTF-8",
        "LC_TIME": "de_DE.UTF-8",
        "TZ": "Europe/Berlin",
        "NODE_EXTRA_CA_CERTS": "/etc/ssl/certs/ca-certificates.crt",
        "HOME": "/home/someone",
    }
    env = gateway_environment(GatewayPaths(tmp_path / "oc"), base)
    assert {name: env[name] for name in base if name != "HOME"} == {
        name: value for name, value in base.items() if name != "HOME"
    }
    assert env["HOME"] == str((tmp_path / "oc" / "home").resolve())


def test_config_file_is_private_json(tmp_path: Path) -> None:
    """The written file holds the gateway token, so it is 0600; it round-trips as JSON."""
    path = tmp_path / "oc" / "openclaw.json"
    config = config_for(tmp_path)
    write_config(path, config)
    write_config(path, config)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == config
    assert [p.name for p in path.parent.iterdir()] == ["openclaw.json"]
