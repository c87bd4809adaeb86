"""The e2e harness's parts: a running `up` as a handle tests drive, and HTTP helpers.

The fixtures that build it, and its API, are described in conftest.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fake_llm import FakeLLM

from openclaw_secure_stack import resources
from openclaw_secure_stack.audit.log import chain_paths
from openclaw_secure_stack.runtime.credentials import LOCAL_CLIENT
from openclaw_secure_stack.runtime.stack import read_state
from openclaw_secure_stack.runtime.supervisor import descendants, is_running

REPO = Path(__file__).resolve().parents[2]
INSTALL_ROOT = REPO / ".oss-data" / "runtime"
START_TIMEOUT = 240.0
STOP_TIMEOUT = 60.0
REQUEST_TIMEOUT = 120.0
PROXY_READ_TIMEOUT = 100  # below REQUEST_TIMEOUT, so a slow turn is the proxy's 504
ALLOW_ALL_POLICY = Path(__file__).parent / "policies" / "allow-all.json"
# Settings `up` could pick up from the developer's shell; the harness decides all of them.
INHERITED_SETTINGS = (
    "CLIENT_TOKENS",
    "CLIENT_TOKENS_FILE",
    "OPENCLAW_GATEWAY_TOKEN",
    "AUDIT_KEY",
    "UPSTREAM_URL",
    "MODEL_BASE_URL",
    "MODEL_API_KEY",
    "MODEL_PROVIDER",
    "MODEL_GATEWAY_HOST",
    "MODEL_GATEWAY_PORT",
    "MODEL_GATEWAY_KEY",
    "OPENCLAW_SANDBOX",
    "GOVERNANCE_POLICY_PATH",
    "GOVERNANCE_TOOLS_PATH",
    "GOVERNANCE_DB_PATH",
    "GOVERNANCE_PLUGIN_TOKEN",
    "APPROVERS",
)
PROVIDER_KEY = "fake-provider-key"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class HttpResult:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def events(self) -> list[Any]:
        """SSE `data:` payloads in order, JSON-decoded except the final `[DONE]`."""
        events: list[Any] = []
        for line in self.body.decode().splitlines():
            if line.startswith("data: "):
                data = line[len("data: ") :]
                events.append(data if data == "[DONE]" else json.loads(data))
        return events

    def text(self) -> str:
        """The assistant's reply, from a JSON completion or from the SSE deltas."""
        if self.headers.get("content-type", "").startswith("text/event-stream"):
            return "".join(
                str(choice.get("delta", {}).get("content") or "")
                for event in self.events()
                if isinstance(event, dict)
                for choice in event.get("choices", [])
            )
        return str(self.json()["choices"][0]["message"]["content"])


def http_post(
    url: str, body: Mapping[str, Any] | bytes, headers: Mapping[str, str], timeout: float
) -> HttpResult:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": "application/json", **headers}
    )
    return _exchange(request, timeout)


def http_get(url: str, headers: Mapping[str, str], timeout: float) -> HttpResult:
    return _exchange(urllib.request.Request(url, headers=dict(headers)), timeout)


def _exchange(request: urllib.request.Request, timeout: float) -> HttpResult:
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return HttpResult(response.status, _lower(response.headers.items()), response.read())
    except urllib.error.HTTPError as error:
        return HttpResult(error.code, _lower(error.headers.items()), error.read())


def _lower(items: Any) -> dict[str, str]:
    return {str(name).lower(): str(value) for name, value in items}


class UsePlain:
    """Sentinel: send the stack's valid client token."""


@dataclass
class StackHandle:
    """A running `up` and everything a test needs to drive and inspect it."""

    llm: FakeLLM
    data_dir: Path
    quarantine_path: Path
    rules_path: Path
    audit_log_path: Path
    base_env: dict[str, str]
    proxy_port: int = field(default_factory=free_port)
    openclaw_port: int = field(default_factory=free_port)
    model_gateway_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    client_token: str = ""
    gateway_token: str = ""
    started: list[int] = field(default_factory=list)
    reconfigured_now: bool = False

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}"

    @property
    def openclaw_root(self) -> Path:
        return self.data_dir / "openclaw"

    @property
    def workspace(self) -> Path:
        return self.openclaw_root / "workspace"

    @property
    def up_log(self) -> Path:
        return self.data_dir.parent / "up.log"

    # --- lifecycle -----------------------------------------------------------------------
    def environment(self, overrides: Mapping[str, str | None]) -> dict[str, str]:
        env = {k: v for k, v in self.base_env.items() if k not in INHERITED_SETTINGS}
        env.update(
            DATA_DIR=str(self.data_dir),
            OPENCLAW_INSTALL_DIR=str(INSTALL_ROOT),
            PROXY_HOST="127.0.0.1",
            PROXY_PORT=str(self.proxy_port),
            OPENCLAW_PORT=str(self.openclaw_port),
            MODEL_BASE_URL=self.llm.base_url,
            MODEL_API_KEY=PROVIDER_KEY,
            MODEL_GATEWAY_PORT=str(self.model_gateway_port),
            MODEL_NAME="fake-model",
            AUDIT_LOG_PATH=str(self.audit_log_path),
            PROMPT_GUARD_DIR=str(resources.PROMPT_GUARD_PLUGIN),
            INDIRECT_RULES_PATH=str(self.rules_path),
            PROMPT_RULES_PATH=str(resources.PROMPT_RULES),
            # Governance runs on every tool call; this policy allows them all, so the tests of
            # the other layers see those layers (test_governance_* run the shipped policy).
            GOVERNANCE_POLICY_PATH=str(ALLOW_ALL_POLICY),
            QUARANTINE_LIST_PATH=str(self.quarantine_path),
            # OpenClaw's first agent turn after a start prepares for 13-16 s (its trace: 7-9 s
            # building the system prompt) on a busy 2-core box; the 30 s default read timeout
            # then 504s. These tests are about what reaches OpenClaw, not about timeouts.
            READ_TIMEOUT=str(PROXY_READ_TIMEOUT),
            COLUMNS="200",
        )
        for name, value in overrides.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        return env

    def start(self, overrides: Mapping[str, str | None] | None = None) -> None:
        command = [str(Path(sys.executable).parent / "openclaw-secure-stack"), "up"]
        with self.up_log.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                # Like a user of the installed package: from a directory of its own, with no
                # checkout around; the packaged rules and plugin are found without it.
                cwd=self.data_dir.parent,
                env=self.environment(overrides or {}),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while (state := read_state(self.data_dir)) is None:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"`up` did not start; its output:\n{self.up_log.read_text()}")
            time.sleep(0.25)
        secrets = self.data_dir / "secrets"
        self.client_token = self.client_tokens()[LOCAL_CLIENT]
        self.gateway_token = (secrets / "gateway-token").read_text().strip()
        self.started = [
            self.process.pid,
            state.gateway_pid,
            state.proxy_pid,
            *([state.model_gateway_pid] if state.model_gateway_pid else []),
        ]
        self.started += descendants(self.process.pid)

    def client_tokens(self) -> dict[str, str]:
        """name -> token of every client in the tokens file `up` generated (and tests extend)."""
        text = (self.data_dir / "secrets" / "client-tokens").read_text()
        return dict(line.split(":", 1) for line in text.split() if ":" in line)

    def stop(self) -> None:
        """SIGTERM `up` and wait; then kill and report anything it left running."""
        process = self.process
        if process is None:
            return
        family = set(self.started) | set(descendants(process.pid))
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.process = None
        leftovers = [pid for pid in family if is_running(pid)]
        for pid in leftovers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if leftovers:
            raise AssertionError(f"`up` left processes running: {leftovers}")

    @contextlib.contextmanager
    def reconfigured(self, **overrides: str | None) -> Iterator[StackHandle]:
        """Run the block against `up` restarted with `overrides` (None unsets one).

        The default configuration comes back lazily: the next test that uses `stack` restarts
        `up` first (see `ensure_default`), so a reconfiguring test that runs last costs one
        restart, not two.
        """
        self.stop()
        self.reconfigured_now = True
        self.start(overrides)
        yield self

    def ensure_default(self) -> None:
        """Restart with the default configuration if a `reconfigured` block changed it."""
        if self.reconfigured_now:
            self.stop()
            self.start()
            self.reconfigured_now = False

    # --- talking to it -------------------------------------------------------------------
    def new_session(self) -> str:
        return "e2e-" + uuid.uuid4().hex[:12]

    def post(
        self,
        path: str,
        body: Mapping[str, Any] | bytes,
        token: str | type[UsePlain] | None = UsePlain,
        headers: Mapping[str, str] | None = None,
        timeout: float = REQUEST_TIMEOUT,
    ) -> HttpResult:
        all_headers = dict(headers or {})
        bearer = self.client_token if token is UsePlain else token
        if isinstance(bearer, str):
            all_headers["Authorization"] = f"Bearer {bearer}"
        return http_post(self.proxy_url + path, body, all_headers, timeout)

    def get(
        self,
        path: str,
        token: str | type[UsePlain] | None = UsePlain,
        timeout: float = REQUEST_TIMEOUT,
    ) -> HttpResult:
        bearer = self.client_token if token is UsePlain else token
        headers = {"Authorization": f"Bearer {bearer}"} if isinstance(bearer, str) else {}
        return http_get(self.proxy_url + path, headers, timeout)

    def chat(
        self,
        content: str,
        *,
        session: str | None = None,
        stream: bool = False,
        token: str | type[UsePlain] | None = UsePlain,
        model: str = "openclaw",
    ) -> HttpResult:
        body: dict[str, Any] = {
            "model": model,
            "messages": [{"role": "user", "content": content}],
            "user": session or self.new_session(),
        }
        if stream:
            body["stream"] = True
        return self.post("/v1/chat/completions", body, token=token)

    def audit_records(self, event: str | None = None) -> list[dict[str, Any]]:
        """Every record of the audit log (rotated files included), in order; only `event`'s
        if given."""
        records = [
            json.loads(line)
            for path in chain_paths(self.audit_log_path)
            for line in path.read_bytes().splitlines()
        ]
        return [r for r in records if event is None or r["event"] == event]

    def openclaw_traces(self, marker: str) -> list[Path]:
        """Files under OpenClaw's data (state, transcripts, logs) whose bytes contain `marker`."""
        needle = marker.encode()
        found = []
        for path in self.openclaw_root.rglob("*"):
            if path.is_file():
                with contextlib.suppress(OSError):
                    if needle in path.read_bytes():
                        found.append(path)
        return found
