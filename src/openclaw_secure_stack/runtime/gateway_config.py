"""The OpenClaw configuration the stack runs with, built by pure functions.

Everything OpenClaw writes (state, config, logs, workspace) stays under one directory, the gateway
listens on loopback only with a token only the proxy knows, the OpenAI-compatible endpoint is on,
background model calls (heartbeat, autonomous skill review, memory "dreaming") are off, every run
has a time limit, and the one model provider is the address the stack chooses.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openclaw_secure_stack.runtime.credentials import write_private

PROVIDER_ID = "stack"
CONTEXT_WINDOW = 128_000
MAX_OUTPUT_TOKENS = 8_192


@dataclass(frozen=True)
class GatewayPaths:
    """Where one gateway keeps everything, all under `root`."""

    root: Path

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    @property
    def config_path(self) -> Path:
        return self.root / "openclaw.json"

    @property
    def log_file(self) -> Path:
        return self.root / "logs" / "openclaw.log"

    @property
    def workspace(self) -> Path:
        return self.root / "workspace"

    @property
    def tmp_dir(self) -> Path:
        """TMPDIR for the gateway: OpenClaw keeps lock and scratch files in the temp dir."""
        return self.root / "tmp"

    def create(self) -> None:
        for directory in (
            self.home,
            self.state_dir,
            self.log_file.parent,
            self.workspace,
            self.tmp_dir,
        ):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)


@dataclass(frozen=True)
class ModelProvider:
    """The OpenAI-compatible endpoint OpenClaw sends every model call to."""

    base_url: str
    api_key: str
    model: str


@dataclass(frozen=True)
class PluginSpec:
    """A plugin folder to load, with the config OpenClaw passes it as `api.pluginConfig`."""

    plugin_id: str
    path: Path
    config: Mapping[str, Any] = field(default_factory=dict)


def build_config(
    *,
    port: int,
    gateway_token: str,
    paths: GatewayPaths,
    provider: ModelProvider,
    plugins: Sequence[PluginSpec] = (),
    timeout_seconds: int = 120,
    disabled_skills: Sequence[str] = (),
) -> dict[str, Any]:
    """The gateway's config document (written as JSON, which OpenClaw's JSON5 reader accepts).

    `disabled_skills` (quarantined ones) are switched off by name, wherever they are found.
    """
    model: dict[str, Any] = {
        "id": provider.model,
        "name": provider.model,
        "reasoning": False,
        "input": ["text"],
        "cost": {"input": 0, "output": 0, "cacheRead": 0, "cacheWrite": 0},
        "contextWindow": CONTEXT_WINDOW,
        "maxTokens": MAX_OUTPUT_TOKENS,
    }
    # memory-core is bundled and always on; its nightly "dreaming" would call the model unasked.
    entries: dict[str, Any] = {"memory-core": {"config": {"dreaming": {"enabled": False}}}}
    plugin_section: dict[str, Any] = {"entries": entries}
    if plugins:
        plugin_section["allow"] = [plugin.plugin_id for plugin in plugins]
        plugin_section["load"] = {"paths": [str(plugin.path.resolve()) for plugin in plugins]}
        for plugin in plugins:
            entries[plugin.plugin_id] = {"enabled": True, "config": dict(plugin.config)}
    return {
        "gateway": {
            "mode": "local",
            "port": port,
            "bind": "loopback",
            "auth": {"mode": "token", "token": gateway_token},
            "http": {"endpoints": {"chatCompletions": {"enabled": True}}},
        },
        "models": {
            "mode": "replace",
            "providers": {
                PROVIDER_ID: {
                    "baseUrl": provider.base_url,
                    "apiKey": provider.api_key,
                    "api": "openai-completions",
                    "models": [model],
                }
            },
        },
        "agents": {
            "defaults": {
                "model": {"primary": f"{PROVIDER_ID}/{provider.model}"},
                "workspace": str(paths.workspace.resolve()),
                "timeoutSeconds": timeout_seconds,
                "heartbeat": {"every": "0m"},
            }
        },
        "skills": {
            "workshop": {"autonomous": {"mode": "off"}},
            **(
                {"entries": {name: {"enabled": False} for name in disabled_skills}}
                if disabled_skills
                else {}
            ),
        },
        "plugins": plugin_section,
        "logging": {"file": str(paths.log_file.resolve())},
    }


# What OpenClaw, and every command its `exec` tool runs, may take from the parent environment:
# where programs are (PATH), how to print text and dates (locale, TZ), and a CA bundle path Node
# needs to reach a model provider behind a TLS-inspecting proxy (a path, not a secret). Nothing
# else: the parent holds the stack's keys and whatever the user's shell exported (cloud, forge and
# registry tokens, an OPENCLAW_GATEWAY_TOKEN), and NODE_OPTIONS could load code into the gateway.
INHERITED_NAMES = frozenset({"PATH", "LANG", "LANGUAGE", "TZ", "NODE_EXTRA_CA_CERTS"})
INHERITED_PREFIXES = ("LC_",)


def gateway_environment(paths: GatewayPaths, base: Mapping[str, str]) -> dict[str, str]:
    """The allowlisted part of `base` plus what isolates and quiets this gateway.

    HOME points into the gateway's own directory, so tools that read or write `~` (git, npm,
    shells) find nothing of the user's and leave nothing in the user's home.
    """
    env = {
        name: value
        for name, value in base.items()
        if name in INHERITED_NAMES or name.startswith(INHERITED_PREFIXES)
    }
    env.update(
        HOME=str(paths.home.resolve()),
        OPENCLAW_HOME=str(paths.home.resolve()),
        OPENCLAW_STATE_DIR=str(paths.state_dir.resolve()),
        OPENCLAW_CONFIG_PATH=str(paths.config_path.resolve()),
        TMPDIR=str(paths.tmp_dir.resolve()),
        OPENCLAW_DISABLE_BONJOUR="1",
        OPENCLAW_NO_AUTO_UPDATE="1",
        OPENCLAW_OFFLINE="1",
    )
    return env


def write_config(path: Path, config: Mapping[str, Any]) -> None:
    """Write atomically with 0600 permissions: the file holds the gateway token."""
    write_private(path, json.dumps(config, indent=2) + "\n")
