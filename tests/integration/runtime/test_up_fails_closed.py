"""`up` refuses to start OpenClaw without its sandbox: the real CLI, each way isolation fails.

Each test runs `openclaw-secure-stack up` as a user would, with one thing wrong, and asserts the
exit code, the message, and that no OpenClaw was started (its output log was never created).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from openclaw_secure_stack.runtime.install import ensure_installed
from openclaw_secure_stack.runtime.node import find_node

REPO = Path(__file__).resolve().parents[3]
INSTALL_ROOT = REPO / ".oss-data" / "runtime"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def installed() -> None:
    ensure_installed(INSTALL_ROOT, find_node())


def run_up(tmp_path: Path, path: str, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": path,
        "HOME": str(tmp_path),
        "DATA_DIR": str(tmp_path / "data"),
        "OPENCLAW_INSTALL_DIR": str(INSTALL_ROOT),
        "PROXY_PORT": str(free_port()),
        "OPENCLAW_PORT": str(free_port()),
        "COLUMNS": "300",
        **settings,
    }
    return subprocess.run(
        [str(Path(sys.executable).parent / "openclaw-secure-stack"), "up"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def assert_refused(result: subprocess.CompletedProcess[str], tmp_path: Path, reason: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert reason in " ".join(result.stderr.split()), result.stderr
    assert not (tmp_path / "data" / "openclaw" / "logs" / "gateway.out.log").exists()


@pytest.mark.usefixtures("installed")
def test_without_bwrap_up_stops_and_says_how_to_fix_it(tmp_path: Path) -> None:
    """No bwrap on PATH: exit 1, the install command and the opt-out are named."""
    (tmp_path / "bin").mkdir()
    result = run_up(tmp_path, str(tmp_path / "bin"))
    assert_refused(result, tmp_path, "bubblewrap is not installed")
    assert "apt-get install bubblewrap" in result.stderr


@pytest.mark.usefixtures("installed")
def test_a_bwrap_that_cannot_isolate_stops_up(tmp_path: Path) -> None:
    """A bwrap that fails to create namespaces: exit 1 with bwrap's own reason."""
    fake = tmp_path / "bin" / "bwrap"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'bwrap: setting up uid map: Permission denied' >&2\nexit 1\n")
    fake.chmod(0o755)
    result = run_up(tmp_path, f"{fake.parent}{os.pathsep}/usr/bin:/bin")
    assert_refused(result, tmp_path, "setting up uid map: Permission denied")


@pytest.mark.usefixtures("installed")
def test_an_audit_log_inside_openclaws_directory_stops_up(tmp_path: Path) -> None:
    """A secret configured where the sandbox mounts it is refused, naming the setting."""
    audit = tmp_path / "data" / "openclaw" / "workspace" / "audit.jsonl"
    result = run_up(tmp_path, "/usr/bin:/bin", AUDIT_LOG_PATH=str(audit))
    assert_refused(result, tmp_path, f"AUDIT_LOG_PATH: {audit.parent} would be readable by")


def test_a_busy_model_gateway_port_stops_up_before_anything_starts(tmp_path: Path) -> None:
    """With a model configured, MODEL_GATEWAY_PORT must be free: exit 1 naming the setting."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = str(listener.getsockname()[1])
        result = run_up(
            tmp_path,
            "/usr/bin:/bin",
            MODEL_BASE_URL="http://127.0.0.1:9/v1",
            MODEL_API_KEY="local",
            MODEL_GATEWAY_PORT=port,
        )
    assert_refused(result, tmp_path, f"MODEL_GATEWAY_PORT: port {port} on 127.0.0.1 is already")
    assert not (tmp_path / "data" / "logs" / "model-gateway.out.log").exists()
