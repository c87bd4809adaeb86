"""prompt-guard in the real gateway: with a missing or broken rules file every tool call is blocked.

The stack's proxy refuses to start with a broken rules file too, so `up` cannot show what the
plugin alone does: these tests start a bare gateway (the stack's own config builder, the pinned
install, the scripted fake LLM) with only the plugin's rules path broken, and talk to it directly.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fake_llm import FakeLLM, Reply, ToolCall
from harness import INSTALL_ROOT, REPO, free_port, http_post

from openclaw_secure_stack import resources
from openclaw_secure_stack.runtime.gateway_config import (
    GatewayPaths,
    ModelProvider,
    PluginSpec,
    build_config,
    gateway_environment,
    write_config,
)
from openclaw_secure_stack.runtime.install import ensure_installed, install_plugin
from openclaw_secure_stack.runtime.node import find_node

READY_TIMEOUT = 120.0
SHIPPED_RULES = (resources.INDIRECT_RULES).read_text(encoding="utf-8")


@dataclass(frozen=True)
class Gateway:
    url: str
    token: str

    def get(self, path: str) -> tuple[int, Any]:
        request = urllib.request.Request(
            self.url + path, headers={"Authorization": f"Bearer {self.token}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def chat(self, content: str) -> int:
        body = {
            "model": "openclaw",
            "user": secrets.token_hex(6),
            "messages": [{"role": "user", "content": content}],
        }
        headers = {"Authorization": f"Bearer {self.token}"}
        return http_post(self.url + "/v1/chat/completions", body, headers, timeout=120).status


# Nothing listens there: a plugin asking it for decisions blocks every call.
UNREACHABLE_GOVERNANCE = {"url": "http://127.0.0.1:9", "token": "unreachable-governance-0123456789"}


@contextlib.contextmanager
def bare_gateway(
    root: Path,
    llm: FakeLLM,
    rules_path: Path,
    governance: Mapping[str, object] = UNREACHABLE_GOVERNANCE,
) -> Iterator[Gateway]:
    """OpenClaw with prompt-guard reading `rules_path` and asking `governance`, until the block
    ends."""
    node = find_node()
    install = ensure_installed(INSTALL_ROOT, node)
    plugin_dir = install_plugin(resources.PROMPT_GUARD_PLUGIN, node, INSTALL_ROOT)
    paths = GatewayPaths(root)
    paths.create()
    port, token = free_port(), secrets.token_hex(16)
    guard = PluginSpec(
        "prompt-guard",
        plugin_dir,
        {
            "rulesPath": str(rules_path),
            "quarantinePath": str(resources.QUARANTINE_LIST),
            "governance": dict(governance),
        },
    )
    provider = ModelProvider(llm.base_url, "fake-provider-key", "fake-model")
    config = build_config(
        port=port, gateway_token=token, paths=paths, provider=provider, plugins=[guard]
    )
    write_config(paths.config_path, config)
    with (root / "gateway.out").open("wb") as log:
        process = subprocess.Popen(
            [str(node.node), str(install.entry), "gateway", "run", "--port", str(port)],
            cwd=root,
            env=gateway_environment(paths, os.environ),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    gateway = Gateway(f"http://127.0.0.1:{port}", token)
    try:
        wait_until_ready(gateway, process, root / "gateway.out")
        yield gateway
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_ready(gateway: Gateway, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gateway exited:\n{log.read_text(errors='replace')[-3000:]}")
        with contextlib.suppress(OSError, ValueError):
            _, body = gateway.get("/prompt-guard/status")
            if isinstance(body, dict) and body.get("plugin") == "prompt-guard":
                return
        time.sleep(0.5)
    raise RuntimeError(f"prompt-guard status never answered:\n{log.read_text()[-3000:]}")


BROKEN_RULES: dict[str, tuple[str | None, str]] = {
    "missing": (None, "rules file unreadable: {path}: ENOENT"),
    "not JSON": (SHIPPED_RULES[: len(SHIPPED_RULES) // 2], "rules file is not valid JSON: {path}"),
    # The known mistake: a rule in Python regex syntax that JavaScript rejects.
    "Python-only pattern": (
        SHIPPED_RULES.replace('"patterns": [', '"patterns": ["(?i)ignore previous", ', 1),
        "rules file is invalid: {path}: rules[0] (OSS-IND-001).patterns[0] is not valid "
        "JavaScript regex syntax",
    ),
}


@pytest.mark.parametrize("defect", list(BROKEN_RULES))
def test_a_broken_rules_file_blocks_every_tool_call(
    defect: str, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    """Every tool call gets the fail-closed reason, nothing runs, the status route says why."""
    content, reason = BROKEN_RULES[defect]
    rules_path = tmp_path / "rules.json"
    if content is not None:
        rules_path.write_text(content, encoding="utf-8")
    expected = f"prompt-guard: {reason.format(path=rules_path)}"
    marker = tmp_path / "exec-ran"
    with bare_gateway(tmp_path / "gateway", fake_llm, rules_path) as gateway:
        status, body = gateway.get("/prompt-guard/status")
        assert status == 503
        assert body["guarding"] is False
        assert body["failure"].startswith(expected)

        for call in (
            ToolCall("exec", {"command": f"touch {marker}"}),
            ToolCall("read", {"path": str(REPO / "README.md")}),
        ):
            fake_llm.script(call, Reply("done"))
            assert gateway.chat("go") == 200
            result = fake_llm.requests[-1].tool_results()[call.call_id]
            assert result.startswith(expected), result
            assert result.endswith("; all tool calls are blocked")
        assert not marker.exists()


def test_an_unreachable_governance_endpoint_blocks_every_tool_call(
    fake_llm: FakeLLM, tmp_path: Path
) -> None:
    """With intact rules but nothing answering at the governance URL, a tool call is blocked,
    never runs, and the model reads why."""
    marker = tmp_path / "exec-ran"
    with bare_gateway(tmp_path / "gateway", fake_llm, resources.INDIRECT_RULES) as gateway:
        call = ToolCall("exec", {"command": f"touch {marker}"})
        fake_llm.script(call, Reply("done"))
        assert gateway.chat("go") == 200
        result = fake_llm.requests[-1].tool_results()[call.call_id]
        assert result.startswith("prompt-guard: governance unreachable or unusable"), result
        assert result.endswith("the tool call is blocked")
    assert not marker.exists()
