"""`doctor` checks: each failure is found and comes with its fix."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from pydantic import SecretStr

from openclaw_secure_stack import resources
from openclaw_secure_stack.audit.sink import CapturingSink
from openclaw_secure_stack.detect import RulesError
from openclaw_secure_stack.proxy.app import build_app
from openclaw_secure_stack.proxy.testing import (
    TEST_AUDIT_KEY,
    TEST_CLIENT_TOKENS,
    TEST_GATEWAY_TOKEN,
)
from openclaw_secure_stack.runtime.doctor import (
    Status,
    check_data_dir,
    check_gateway_config,
    check_install,
    check_loader,
    check_model,
    check_node,
    check_sandbox,
    run_checks,
    startup_loaders,
)
from openclaw_secure_stack.runtime.gateway_config import GatewayPaths
from openclaw_secure_stack.settings import Settings, SettingsError


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


def test_no_model_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    """`up` works without a model, so doctor warns and says what to set."""
    check = check_model(settings_for(tmp_path))
    assert check.status is Status.warning and "MODEL_BASE_URL" in check.fix


def test_the_packaged_files_pass_every_start_up_loader(tmp_path: Path) -> None:
    """The shipped rules, classifier, plugin and quarantine list load as start-up loads them."""
    checks = [check_loader(loader) for loader in startup_loaders(settings_for(tmp_path))]
    assert [(check.name, check.status) for check in checks] == [
        ("detection rules and classifier", Status.passed),
        ("prompt-guard plugin", Status.passed),
        ("quarantine list", Status.passed),
        ("phone relays", Status.passed),
    ]
    assert checks[2].detail.endswith("(0 entries)")
    assert checks[3].detail.startswith("off")


def test_a_half_configured_relay_fails_its_loader_naming_the_settings(tmp_path: Path) -> None:
    """A bot token without an allowlist or secret stops `up` and `doctor` before anything."""
    settings = settings_for(tmp_path).model_copy(
        update={"telegram_bot_token": SecretStr("123:abc"), "whatsapp_access_token": SecretStr("x")}
    )
    [relays] = [check_loader(loader) for loader in startup_loaders(settings)][3:]
    assert relays.status is Status.failed
    for setting in ("TELEGRAM_WEBHOOK_SECRET", "TELEGRAM_ALLOWED_USERS", "WHATSAPP_APP_SECRET"):
        assert setting in relays.detail


def _broken_model(tmp_path: Path) -> Path:
    model = tmp_path / "model"
    shutil.copytree(resources.CLASSIFIER_MODEL.parent, model)
    manifest = json.loads((model / "model.json").read_text())
    manifest["hash_bits"] = 3
    (model / "model.json").write_text(json.dumps(manifest))
    return model / "model.json"


def _rules_with(pattern: str) -> str:
    rules = json.loads(resources.PROMPT_RULES.read_text())
    rules["rules"][0]["patterns"] = [pattern]
    return json.dumps(rules)


BROKEN_DETECTION = {
    "prompt rules not JSON": ("PROMPT_RULES_PATH", "{"),
    "prompt rule with a bad regex": ("PROMPT_RULES_PATH", _rules_with("(unclosed")),
    "indirect rules of the wrong schema": ("INDIRECT_RULES_PATH", '{"schema": 2, "rules": []}'),
    "indirect rules empty": ("INDIRECT_RULES_PATH", ""),
}


@pytest.mark.parametrize("case", sorted(BROKEN_DETECTION))
def test_doctor_fails_where_serve_fails_on_rules(tmp_path: Path, case: str) -> None:
    """A rules file that exists but cannot be loaded fails doctor and stops `serve` alike."""
    variable, content = BROKEN_DETECTION[case]
    path = tmp_path / "rules.json"
    path.write_text(content)
    _assert_doctor_and_serve_refuse(tmp_path, **{variable.lower(): path})


def test_doctor_fails_where_serve_fails_on_the_model(tmp_path: Path) -> None:
    """A classifier manifest that does not match its weights fails doctor and `serve` alike."""
    _assert_doctor_and_serve_refuse(tmp_path, classifier_model_path=_broken_model(tmp_path))


def _assert_doctor_and_serve_refuse(tmp_path: Path, **values: object) -> None:
    settings = settings_for(
        tmp_path,
        openclaw_gateway_token=TEST_GATEWAY_TOKEN,
        client_tokens=f"alice:{TEST_CLIENT_TOKENS['alice']}",
        audit_key=TEST_AUDIT_KEY,
        **values,
    )
    (check,) = [
        check_loader(loader)
        for loader in startup_loaders(settings)
        if loader.name == "detection rules and classifier"
    ]
    assert check.status is Status.failed
    (variable,) = [name.upper() for name in values]
    assert variable in check.fix
    with pytest.raises(RulesError):
        build_app(settings.proxy_config(), CapturingSink())


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{", "JSON"),
        ('{"schema": 2, "entries": []}', "schema must be 1"),
        ('{"schema": 1}', "list of entries"),
        ('{"schema": 1, "entries": [{"kind": "tool", "name": "exec"}]}', "reason is required"),
        ('{"schema": 1, "entries": [{"kind": "app", "name": "x", "reason": "y"}]}', "kind"),
        (
            '{"schema": 1, "entries": [{"kind": "tool", "name": "x", "reason": "y", "z": 1}]}',
            "unknown keys",
        ),
    ],
)
def test_a_quarantine_list_the_plugin_refuses_fails_doctor_and_up(
    tmp_path: Path, content: str, reason: str
) -> None:
    """The list is checked by the plugin's own parser: what it would refuse, doctor and `up`
    refuse, naming QUARANTINE_LIST_PATH."""
    path = tmp_path / "quarantine.json"
    path.write_text(content)
    settings = settings_for(tmp_path, quarantine_list_path=path)
    (loader,) = [loader for loader in startup_loaders(settings) if loader.name == "quarantine list"]
    check = check_loader(loader)
    assert check.status is Status.failed and "QUARANTINE_LIST_PATH" in check.fix
    assert reason in check.detail
    with pytest.raises(SettingsError, match=r"^QUARANTINE_LIST_PATH: "):
        loader.load()


def test_the_sandbox_check_fails_without_bwrap_and_warns_when_off(tmp_path: Path) -> None:
    """Missing bubblewrap fails with the install command; OPENCLAW_SANDBOX=off is a warning;
    the machine's bwrap passes only if it can really create the sandbox."""
    missing = check_sandbox(settings_for(tmp_path), lambda _name: None)
    assert (missing.status, missing.fix) == (Status.failed, "apt-get install bubblewrap")
    off = check_sandbox(settings_for(tmp_path, openclaw_sandbox="off"))
    assert off.status is Status.warning and "secrets" in off.detail
    assert check_sandbox(settings_for(tmp_path)).status is Status.passed


def test_every_check_has_a_fix_when_it_fails(tmp_path: Path) -> None:
    """No failure is reported without a way out."""
    checks = run_checks(settings_for(tmp_path, openclaw_install_dir=tmp_path / "none"))
    assert {check.name for check in checks} >= {"node", "openclaw", "model", "data dir"}
    assert all(check.fix for check in checks if check.status is not Status.passed)
