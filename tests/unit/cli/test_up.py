"""`up`, `status` and `doctor` on the command line: exit codes, text and JSON output."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from openclaw_secure_stack.cli.main import app
from openclaw_secure_stack.cli.up import banner
from openclaw_secure_stack.proxy.testing import RecordingUpstream, free_port
from openclaw_secure_stack.runtime.stack import RunState, owner_lock, state_path


@pytest.fixture(autouse=True)
def _environment(no_stack_settings: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A data dir in tmp_path; the packaged rules, plugin and quarantine list."""
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))


def invoke(*args: str, **env: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    # `output` holds what went to stdout and stderr, in order.
    return result.exit_code, result.output


def test_status_when_nothing_runs_exits_1(tmp_path: Path) -> None:
    """No `up` owns the data dir: 'not running', exit 1; JSON says running false."""
    code, output = invoke("status")
    assert (code, "not running" in output) == (1, True)
    code, output = invoke("status", "--format", "json")
    assert code == 1 and json.loads(output) == {
        "running": False,
        "state": None,
        "alive": {},
        "model_gateway_listening": False,
    }


def running_state(data_dir: Path, **changes: object) -> dict[str, object]:
    state = {
        "up_pid": 1, "gateway_pid": 1, "proxy_pid": 999_999_999, "model_gateway_pid": 0,
        "proxy_url": "http://127.0.0.1:8080", "gateway_url": "http://127.0.0.1:18789",
        "model_gateway_url": "", "data_dir": str(data_dir), "openclaw_version": "2026.9.6",
        "node_version": "24.19.0", "model": "not configured",
        "started_at": "2026-11-25T10:00:00+00:00",
    }  # fmt: skip
    return {**state, **changes}


def test_status_reports_a_running_up(tmp_path: Path) -> None:
    """While an `up` holds the lock, status shows its URLs, versions and live pids."""
    data_dir = tmp_path / "data"
    with owner_lock(data_dir):
        state_path(data_dir).write_text(json.dumps(running_state(data_dir)))
        code, output = invoke("status", "--format", "json")
        text_code, text = invoke("status")
    document = json.loads(output)
    assert (code, document["running"], document["state"]["proxy_url"]) == (
        0,
        True,
        "http://127.0.0.1:8080",
    )
    assert document["alive"] == {"up": True, "openclaw": True, "proxy": False}
    assert text_code == 0 and "2026.9.6" in text and "gone" in text
    assert "not started (no model configured)" in text


@pytest.mark.parametrize("answering", [True, False])
def test_status_shows_whether_the_model_gateway_answers(
    tmp_path: Path, upstream: RecordingUpstream, answering: bool
) -> None:
    """The gateway's URL, its provider kind and host, and whether its /health answers."""
    data_dir = tmp_path / "data"
    url = f"http://127.0.0.1:{upstream.port if answering else free_port()}/v1"
    state = running_state(
        data_dir,
        model_gateway_pid=1,
        model_gateway_url=url,
        model="gpt-4o-mini (openai) at api.openai.com",
    )
    with owner_lock(data_dir):
        state_path(data_dir).write_text(json.dumps(state))
        _, output = invoke("status", "--format", "json")
        _, text = invoke("status")
    document = json.loads(output)
    assert document["model_gateway_listening"] is answering
    assert document["alive"]["model gateway"] is True
    assert f"{url} ({'listening' if answering else 'NOT ANSWERING'})" in text
    assert "gpt-4o-mini (openai) at api.openai.com" in text


def test_doctor_json_lists_checks_and_fails_without_an_install(tmp_path: Path) -> None:
    """Without OpenClaw installed doctor exits 1 and the JSON names the failing check + fix."""
    code, output = invoke("doctor", "--format", "json", OPENCLAW_INSTALL_DIR=str(tmp_path / "n"))
    document = json.loads(output)
    assert code == 1 and document["ok"] is False
    failing = {check["name"]: check for check in document["checks"] if check["status"] == "fail"}
    assert set(failing) == {"openclaw"}
    assert "up" in failing["openclaw"]["fix"]


def test_doctor_reports_a_busy_port(tmp_path: Path) -> None:
    """A port taken by another program is a failure that names the setting to change."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = str(listener.getsockname()[1])
        code, output = invoke("doctor", "--format", "json", PROXY_PORT=port)
    checks = {check["name"]: check for check in json.loads(output)["checks"]}
    assert code == 1
    assert checks["port PROXY_PORT"]["status"] == "fail"
    assert "PROXY_PORT" in checks["port PROXY_PORT"]["fix"]


def test_up_refuses_a_second_instance_on_the_same_data_dir(tmp_path: Path) -> None:
    """While another `up` owns DATA_DIR, `up` exits 1 and points at `status`."""
    with owner_lock(tmp_path / "data"):
        code, output = invoke("up")
    assert code == 1 and "already running" in output and "status" in output


def test_up_reports_a_bad_setting_with_exit_2() -> None:
    """An invalid setting stops `up` before anything starts."""
    code, output = invoke("up", MODEL_BASE_URL="ftp://nope")
    assert code == 2 and "MODEL_BASE_URL" in output


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"MODEL_BASE_URL": "https://api.openai.com/v1"}, "MODEL_API_KEY: not set"),
        ({"MODEL_GATEWAY_HOST": "0.0.0.0"}, "MODEL_GATEWAY_HOST: "),
        ({"MODEL_PROVIDER": "bedrock"}, "MODEL_PROVIDER: "),
    ],
)
def test_up_refuses_an_unusable_model_configuration_with_exit_2(
    tmp_path: Path, env: dict[str, str], named: str
) -> None:
    """A provider URL without its key, a non-loopback gateway or an unknown provider kind: exit
    2 naming the setting, before anything is created."""
    code, output = invoke("up", **env)
    assert code == 2, output
    assert named in output
    assert not (tmp_path / "data").exists()


def test_banner_token_and_curl_line_survive_a_narrow_terminal() -> None:
    """The token and the curl line are printed whole on one line each, outside the box, so a
    copy from an 80-column terminal is exactly the token."""
    token = "T0k3n-" + "x" * 60
    state = RunState(
        up_pid=1,
        gateway_pid=2,
        proxy_pid=3,
        model_gateway_pid=4,
        proxy_url="http://127.0.0.1:8080",
        gateway_url="http://127.0.0.1:18789",
        model_gateway_url="http://127.0.0.1:8081/v1",
        data_dir="/srv/oss",
        openclaw_version="2026.9.6",
        node_version="24.19.0",
        model="not configured",
        started_at="2026-11-30T00:00:00+00:00",
    )
    console = Console(width=80, record=True)
    console.print(banner(state, token), soft_wrap=True)
    lines = console.export_text().splitlines()
    assert f"Token: Authorization: Bearer {token}" in lines
    curl = next(line for line in lines if line.startswith("Try:"))
    assert f"-H 'Authorization: Bearer {token}'" in curl
    assert curl.endswith(
        """-d '{"model":"openclaw","messages":[{"role":"user","content":"hello"}]}'"""
    )


def _broken(tmp_path: Path) -> dict[str, dict[str, str]]:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "rules.json").write_text('{"schema": 1, "rules": "none"}')
    (inputs / "quarantine.json").write_text('{"schema": 1, "entries": [{"kind": "tool"}]}')
    return {
        "PROMPT_RULES_PATH": {"PROMPT_RULES_PATH": str(inputs / "rules.json")},
        "QUARANTINE_LIST_PATH": {"QUARANTINE_LIST_PATH": str(inputs / "quarantine.json")},
        "PROXY_PORT": {"PROXY_PORT": "http"},
        "CLIENT_TOKENS": {"CLIENT_TOKENS": "alice"},
    }


@pytest.mark.parametrize(
    "variable", ["PROMPT_RULES_PATH", "QUARANTINE_LIST_PATH", "PROXY_PORT", "CLIENT_TOKENS"]
)
def test_up_refuses_unusable_configuration_before_creating_anything(
    tmp_path: Path, variable: str
) -> None:
    """`up` runs the start-up loaders first: exit 2, one error naming the variable or file, and
    no data dir, secrets or install."""
    code, output = invoke("up", **_broken(tmp_path)[variable])
    assert code == 2, output
    assert output.count("error:") == 1
    assert variable in output or str(tmp_path / "inputs") in output
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("command", [["doctor"], ["status"], ["audit", "verify"], ["detect"]])
def test_every_command_reports_configuration_errors_the_same_way(command: list[str]) -> None:
    """One handler: any command given an unusable setting exits 2 with the variable named."""
    code, output = invoke(*command, AUDIT_ROTATE_BYTES="tiny")
    assert code == 2
    assert output.startswith("error: invalid configuration:\n  AUDIT_ROTATE_BYTES: ")
