"""`doctor` checks: each failure is found and comes with its fix."""

from __future__ import annotations

import json
from pathlib import Path

from openclaw_secure_stack import resources
from openclaw_secure_stack.runtime.doctor import (
    Status,
    check_data_dir,
    check_gateway_config,
    check_install,
    check_json_file,
    check_model,
    check_node,
    check_plugin,
    run_checks,
)
from openclaw_secure_stack.runtime.gateway_config import GatewayPaths
from openclaw_secure_stack.settings import Settings

REPO = Path(__file__).resolve().parents[3]


def settings_for(tmp_path: Path, **values: object) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path / "data", **values)  # type: ignore[call-arg]


def test_node_from_the_wheel_passes() -> None:
    """The project's Node is new enough."""
    assert check_node().status is Status.passed


def test_a_missing_install_fails_and_says_up_installs_it(tmp_path: Path) -> None:
    """No install under OPENCLAW_INSTALL_DIR: fail, fix is `up`."""
    check = check_install(settings_for(tmp_path, openclaw_install_dir=tmp_path / "none"))
    assert check.status is Status.failed and "up" in check.fix


def test_world_writable_data_dir_and_exposed_secrets_fail(tmp_path: Path) -> None:
    """Loose permissions on the data dir or a secret are failures with chmod fixes."""
    data_dir = tmp_path / "data"
    (data_dir / "secrets").mkdir(parents=True)
    data_dir.chmod(0o777)
    (data_dir / "secrets" / "gateway-token").write_text("x")
    (data_dir / "secrets" / "gateway-token").chmod(0o644)
    checks = check_data_dir(settings_for(tmp_path))
    assert [(c.status, c.fix.split()[0]) for c in checks] == [
        (Status.failed, "chmod"),
        (Status.failed, "chmod"),
    ]


def test_a_gateway_config_not_on_loopback_fails(tmp_path: Path) -> None:
    """A config that binds beyond loopback or lacks a token is reported with the fix."""
    settings = settings_for(tmp_path)
    path = GatewayPaths(tmp_path / "data" / "openclaw").config_path
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"gateway": {"bind": "lan", "auth": {}}}))
    path.chmod(0o600)
    check = check_gateway_config(settings)
    assert check.status is Status.failed
    assert "not bound to loopback" in check.detail and "no gateway token" in check.detail


def test_unreadable_or_invalid_json_fails(tmp_path: Path) -> None:
    """A missing file names the setting; a broken one names the file."""
    missing = check_json_file("rules", tmp_path / "missing.json", "INDIRECT_RULES_PATH")
    broken_path = tmp_path / "broken.json"
    broken_path.write_text("{")
    broken = check_json_file("rules", broken_path, "INDIRECT_RULES_PATH")
    assert (missing.status, missing.fix) == (Status.failed, "set INDIRECT_RULES_PATH")
    assert broken.status is Status.failed and "not valid JSON" in broken.detail


def test_no_model_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    """`up` works without a model, so doctor warns and says what to set."""
    check = check_model(settings_for(tmp_path))
    assert check.status is Status.warning and "MODEL_BASE_URL" in check.fix


def test_the_repository_plugin_passes_and_a_wrong_folder_fails(tmp_path: Path) -> None:
    """PROMPT_GUARD_DIR must hold openclaw.plugin.json."""
    good = settings_for(tmp_path, prompt_guard_dir=resources.PROMPT_GUARD_PLUGIN)
    assert check_plugin(good).status is Status.passed
    assert check_plugin(settings_for(tmp_path, prompt_guard_dir=tmp_path)).status is Status.failed


def test_every_check_has_a_fix_when_it_fails(tmp_path: Path) -> None:
    """No failure is reported without a way out."""
    checks = run_checks(settings_for(tmp_path, openclaw_install_dir=tmp_path / "none"))
    assert {check.name for check in checks} >= {"node", "openclaw", "model", "data dir"}
    assert all(check.fix for check in checks if check.status is not Status.passed)
