"""`doctor` checks: each failure is found and comes with its fix."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
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
    RecordingUpstream,
    free_port,
)
from openclaw_secure_stack.runtime.doctor import (
    Status,
    check_data_dir,
    check_gateway_config,
    check_install,
    check_loader,
    check_model_gateway,
    check_node,
    check_sandbox,
    run_checks,
    startup_loaders,
)
from openclaw_secure_stack.runtime.gateway_config import (
    GatewayPaths,
    ModelProvider,
    build_config,
    write_config,
)
from openclaw_secure_stack.runtime.stack import RunState, owner_lock, state_path
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
    """A config that binds beyond loopback, lacks a token, or sends model calls anywhere but
    a loopback gateway is reported with the fix; the config `up` writes passes."""
    settings = settings_for(tmp_path)
    paths = GatewayPaths(tmp_path / "data" / "openclaw")
    paths.root.mkdir(parents=True)
    provider = {"baseUrl": "https://api.openai.com/v1", "apiKey": "sk-real"}
    bad = {"gateway": {"bind": "lan", "auth": {}}, "models": {"providers": {"p": provider}}}
    paths.config_path.write_text(json.dumps(bad))
    paths.config_path.chmod(0o600)
    check = check_gateway_config(settings)
    assert check.status is Status.failed
    assert "not bound to loopback" in check.detail and "no gateway token" in check.detail
    assert "not the stack's loopback gateway" in check.detail
    gateway = ModelProvider("http://127.0.0.1:8081/v1", "per-start-key", "m")
    write_config(
        paths.config_path,
        build_config(port=1, gateway_token="t" * 32, paths=paths, provider=gateway),
    )
    assert check_gateway_config(settings).status is Status.passed


def test_no_model_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    """`up` works without a model, so doctor warns and says what to set."""
    check = check_model_gateway(settings_for(tmp_path))
    assert check.status is Status.warning and "MODEL_BASE_URL" in check.fix


MODEL = {"model_base_url": "https://user:pw@llm.example:8443/v1", "model_name": "m"}


def test_a_provider_url_without_its_key_fails(tmp_path: Path) -> None:
    """MODEL_BASE_URL without MODEL_API_KEY fails, as `up` refuses it."""
    check = check_model_gateway(settings_for(tmp_path, **MODEL))
    assert check.status is Status.failed and "MODEL_API_KEY: not set" in check.detail


def test_a_configured_gateway_shows_kind_and_host_never_the_key(tmp_path: Path) -> None:
    """Not running: where `up` will start it, the provider kind and host; no key, no password."""
    settings = settings_for(
        tmp_path, model_provider="anthropic", model_api_key="sk-secret-42", **MODEL
    )
    check = check_model_gateway(settings)
    assert check.status is Status.passed
    assert "http://127.0.0.1:8081" in check.detail
    assert "m (anthropic) at llm.example:8443" in check.detail
    assert "sk-secret-42" not in check.detail and "pw" not in check.detail


def _running(settings: Settings, model_gateway_url: str) -> None:
    """Publish the state of a running `up` for `settings.data_dir` (the caller holds the lock)."""
    state = RunState(
        up_pid=1, gateway_pid=2, proxy_pid=3, model_gateway_pid=4,
        proxy_url="http://127.0.0.1:8080", gateway_url="http://127.0.0.1:18789",
        model_gateway_url=model_gateway_url, data_dir=str(settings.data_dir),
        openclaw_version="2026.9.6", node_version="24.19.0", model="m (openai) at llm.example",
        started_at="2026-11-25T10:00:00+00:00",
    )  # fmt: skip
    state_path(settings.data_dir).write_text(json.dumps(asdict(state)))


def test_a_running_gateway_that_does_not_answer_fails(
    tmp_path: Path, upstream: RecordingUpstream
) -> None:
    """With `up` running, doctor asks the gateway's /health: down fails and names its log."""
    settings = settings_for(tmp_path, model_api_key="k", **MODEL)
    with owner_lock(settings.data_dir):
        _running(settings, f"{upstream.url}/v1")
        up = check_model_gateway(settings)
        _running(settings, f"http://127.0.0.1:{free_port()}/v1")
        down = check_model_gateway(settings)
        _running(settings, "")
        without = check_model_gateway(settings)
    assert up.status is Status.passed and "listening" in up.detail
    assert down.status is Status.failed and "model-gateway.out.log" in down.fix
    assert without.status is Status.failed and "restart" in without.fix


def test_the_packaged_files_pass_every_start_up_loader(tmp_path: Path) -> None:
    """The shipped rules, classifier, plugin and quarantine list load as start-up loads them."""
    checks = [check_loader(loader) for loader in startup_loaders(settings_for(tmp_path))]
    assert [(check.name, check.status) for check in checks] == [
        ("detection rules and classifier", Status.passed),
        ("prompt-guard plugin", Status.passed),
        ("model provider", Status.passed),
        ("quarantine list", Status.passed),
        ("phone relays", Status.passed),
    ]
    assert checks[2].detail == "none configured"
    assert checks[3].detail.endswith("(0 entries)")
    assert checks[4].detail.startswith("off")


def test_a_half_configured_relay_fails_its_loader_naming_the_settings(tmp_path: Path) -> None:
    """A bot token without an allowlist or secret stops `up` and `doctor` before anything."""
    settings = settings_for(tmp_path).model_copy(
        update={"telegram_bot_token": SecretStr("123:abc"), "whatsapp_access_token": SecretStr("x")}
    )
    [relays] = [check_loader(loader) for loader in startup_loaders(settings)][4:]
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
    assert {check.name for check in checks} >= {"node", "openclaw", "model gateway", "data dir"}
    assert all(check.fix for check in checks if check.status is not Status.passed)
