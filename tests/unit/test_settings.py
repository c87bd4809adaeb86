"""The one configuration object: defaults, environment, `.env`, and errors that name the setting."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from openclaw_secure_stack import resources
from openclaw_secure_stack.settings import Settings, SettingsError, load_settings

REPO = Path(__file__).resolve().parents[2]


pytestmark = pytest.mark.usefixtures("no_stack_settings")


def test_defaults_are_the_documented_ones() -> None:
    settings = load_settings()
    assert settings.proxy_port == 8080
    assert settings.max_body_bytes == 10 * 1024 * 1024
    assert settings.connect_timeout == 30.0
    assert settings.stream_read_timeout == 300.0
    assert settings.upstream_url == "http://127.0.0.1:18789"


def test_environment_and_dotenv_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    alice, ci = "alice-token-0123456789", "ci-token-0123456789ab"
    (tmp_path / ".env").write_text(f"PROXY_PORT=9090\nCLIENT_TOKENS=alice:{alice},ci:{ci}\n")
    monkeypatch.setenv("UPSTREAM_URL", "http://127.0.0.1:1234/")
    settings = load_settings()
    assert settings.proxy_port == 9090
    assert settings.client_tokens == {"alice": alice, "ci": ci}
    assert settings.upstream_url == "http://127.0.0.1:1234"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("PROXY_PORT", "70000", "PROXY_PORT: Input should be less than or equal to 65535"),
        ("PROXY_PORT", "eighty", "PROXY_PORT: Input should be a valid integer"),
        ("UPSTREAM_URL", "127.0.0.1:18789", "UPSTREAM_URL: Value error, must start with http://"),
        ("AUDIT_KEY", "short", "AUDIT_KEY: Value error, must be at least 32 characters"),
        ("CLIENT_TOKENS", "alice", "CLIENT_TOKENS: Value error, CLIENT_TOKENS line 1: expected"),
        ("CLIENT_TOKENS", "a:x,a:y", "token name 'a' appears twice"),
        ("MAX_BODY_BYTES", "10", "MAX_BODY_BYTES: Input should be greater than or equal to 1024"),
    ],
)
def test_a_bad_value_names_the_setting_and_the_fix(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value).startswith("invalid configuration:\n  ")
    assert message in str(caught.value)


def test_every_problem_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROXY_PORT", "0")
    monkeypatch.setenv("AUDIT_KEY", "short")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "PROXY_PORT:" in str(caught.value)
    assert "AUDIT_KEY:" in str(caught.value)


def test_secrets_do_not_appear_in_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDIT_KEY", "hunter2-secret")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "hunter2" not in str(caught.value)


def test_readme_documents_every_setting() -> None:
    """The README's configuration table has one row per setting, so none is undocumented."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([A-Z0-9_]+)` \|", readme, flags=re.MULTILINE))
    assert documented == {name.upper() for name in Settings.model_fields}


TOKEN = "alice-token-0123456789"
GATEWAY = "gateway-token-0123456789abcdef"


def _sha256(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


# One unusable value per variable, and what the message must say. A variable missing here is a
# variable whose checks no test covers (see the test below).
BAD_VALUES: dict[str, tuple[str, str]] = {
    "PROXY_HOST": ("", "at least 1 character"),
    "PROXY_PORT": ("70000", "less than or equal to 65535"),
    "PROXY_WORKERS": ("0", "greater than or equal to 1"),
    "PROXY_ROUTES_PATH": ("{tmp}/missing.json", "is not a file (unset it"),
    "UPSTREAM_URL": ("ftp://openclaw", "must start with http:// or https://"),
    "OPENCLAW_GATEWAY_TOKEN": (TOKEN, "equals the client token 'alice' (CLIENT_TOKENS)"),
    "CLIENT_TOKENS": ("alice:short", "token 'alice' must be at least 16 characters"),
    "CLIENT_TOKENS_FILE": ("{tmp}/missing", "cannot be read"),
    "MAX_BODY_BYTES": ("10", "greater than or equal to 1024"),
    "CONNECT_TIMEOUT": ("0", "greater than 0"),
    "READ_TIMEOUT": ("-1", "greater than 0"),
    "STREAM_READ_TIMEOUT": ("soon", "valid number"),
    "CLIENT_TIMEOUT": ("0", "greater than 0"),
    "UPSTREAM_READY_PATH": ("readyz", "must start with /"),
    "AUDIT_LOG_PATH": ("{tmp}", "is a directory"),
    "AUDIT_KEY": ("short", "at least 32 characters (try: openssl rand -hex 32)"),
    "AUDIT_ROTATE_BYTES": ("100", "greater than or equal to 4096"),
    "AUDIT_ANCHOR_PATH": ("{tmp}", "is a directory"),
    "AUDIT_FSYNC": ("sometimes", "valid boolean"),
    "DATA_DIR": ("{tmp}/file", "exists and is not a directory"),
    "OPENCLAW_PORT": ("0", "greater than or equal to 1"),
    "OPENCLAW_INSTALL_DIR": ("{tmp}/file", "exists and is not a directory"),
    "OPENCLAW_SANDBOX": ("docker", "Input should be 'bwrap' or 'off'"),
    "MODEL_BASE_URL": ("api.openai.com", "must start with http:// or https://"),
    "MODEL_NAME": ("", "at least 1 character"),
    "MODEL_PROVIDER": ("bedrock", "Input should be 'openai' or 'anthropic'"),
    "MODEL_GATEWAY_HOST": ("0.0.0.0", "is not loopback"),
    "MODEL_GATEWAY_PORT": ("65536", "less than or equal to 65535"),
    "MODEL_GATEWAY_KEY": ("short", "at least 32 characters"),
    "INTERNAL_API_TOKEN": ("short", "at least 32 characters"),
    "GOVERNANCE_PLUGIN_TOKEN": ("short", "at least 32 characters"),
    "PROMPT_GUARD_DIR": ("{tmp}", "is not an OpenClaw plugin folder"),
    "QUARANTINE_LIST_PATH": ("{tmp}/missing.json", "is not a file (unset it"),
    "SCANNER_RULES_PATH": ("{tmp}/missing.json", "is not a file (unset it"),
    "PROMPT_RULES_PATH": ("{tmp}/missing.json", "is not a file (unset it"),
    "INDIRECT_RULES_PATH": ("{tmp}", "is not a file (unset it"),
    "CLASSIFIER_MODEL_PATH": ("{tmp}/model.json", "is not a file (unset it"),
    "CLASSIFIER_FLAG_THRESHOLD": ("1.5", "less than 1"),
    "CLASSIFIER_REJECT_THRESHOLD": ("0", "greater than 0"),
    "DETECT_THREAD_THRESHOLD_BYTES": ("-1", "greater than or equal to 0"),
    "RESPONSE_SCAN_BUFFER_BYTES": ("10", "greater than or equal to 1024"),
    "GOVERNANCE_POLICY_PATH": ("{tmp}/missing.json", "is not a file (unset it"),
    "GOVERNANCE_TOOLS_PATH": ("{tmp}", "is not a file (unset it"),
    "GOVERNANCE_DB_PATH": ("{tmp}", "is a directory"),
    "APPROVERS": ("bob,b@d", "['b@d'] are not token names"),
    "APPROVAL_TTL_SECONDS": ("0", "greater than 0"),
    "TELEGRAM_BOT_TOKEN": ("abc", "must look like 123456:ABC"),
    "TELEGRAM_WEBHOOK_SECRET": ("not/allowed", "1-256 of A-Z a-z 0-9 _ -"),
    "TELEGRAM_ALLOWED_USERS": ("12,bob", "'bob' is not a numeric id"),
    "TELEGRAM_ALLOWED_CHATS": ("-100x", "'-100x' is not a numeric id"),
    "TELEGRAM_APPROVERS": ("ada", "'ada' is not a numeric id"),
    "WHATSAPP_APPROVERS": ("49 151", "'49 151' is not a numeric id"),
    "TELEGRAM_API_URL": ("api.telegram.org", "must start with http:// or https://"),
    "WHATSAPP_APP_SECRET": ("short", "at least 16 characters"),
    "WHATSAPP_VERIFY_TOKEN": ("short", "at least 16 characters"),
    "WHATSAPP_PHONE_NUMBER_ID": ("+1 555", "should match pattern"),
    "WHATSAPP_ALLOWED_NUMBERS": ("-4915", "'-4915' is not a numeric id"),
    "WHATSAPP_API_URL": ("graph.facebook.com", "must start with http:// or https://"),
    "WEBHOOK_QUEUE_SIZE": ("0", "greater than or equal to 1"),
    "WEBHOOK_WORKERS": ("0", "greater than or equal to 1"),
    "WEBHOOK_SENDER_PER_MINUTE": ("0", "greater than 0"),
    "WEBHOOK_CHAT_PER_MINUTE": ("-1", "greater than 0"),
    "WEBHOOK_BURST": ("0", "greater than or equal to 1"),
    "WEBHOOK_REPLAY_TTL_SECONDS": ("5", "greater than or equal to 60"),
    "WEBHOOK_REPLAY_PATH": ("{tmp}", "is a directory"),
    "WEBHOOK_TELL_UNKNOWN": ("maybe", "valid boolean"),
    "WEBHOOK_REPLY_ATTEMPTS": ("0", "greater than or equal to 1"),
    "WEBHOOK_REPLY_MAX_WAIT": ("0", "greater than 0"),
}
# Any value is accepted: it is the provider's to judge.
# WHATSAPP_ACCESS_TOKEN is Meta's to judge as well.
FREE_FORM = {"MODEL_API_KEY", "WHATSAPP_ACCESS_TOKEN"}


def test_every_variable_has_a_bad_value_case() -> None:
    """Each setting is either checked by a case below or deliberately free-form."""
    assert set(BAD_VALUES) | FREE_FORM == {name.upper() for name in Settings.model_fields}


@pytest.mark.parametrize("variable", sorted(BAD_VALUES))
def test_each_variable_is_checked_and_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str
) -> None:
    """An unusable value of any variable is a SettingsError naming it with the reason."""
    value, reason = BAD_VALUES[variable]
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("CLIENT_TOKENS", f"alice:{TOKEN}")
    monkeypatch.setenv(variable, value.format(tmp=tmp_path))
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert re.search(rf"^  {variable}\b.*{re.escape(reason)}", message, re.MULTILINE), message
    assert message.count("\n  ") == 1, "exactly one problem is reported"


def test_client_tokens_file_adds_plain_and_hashed_tokens(tmp_path: Path) -> None:
    """The file's entries, plain and sha256:, join CLIENT_TOKENS as digests by name."""
    tokens_file = tmp_path / "tokens"
    tokens_file.write_text(f"# team\nci:{GATEWAY}x\n\nbot:{_sha256('bot-token-0123456789')}\n")
    settings = load_settings(client_tokens=f"alice:{TOKEN}", client_tokens_file=tokens_file)
    assert dict(settings.client_digests) == {
        "alice": hashlib.sha256(TOKEN.encode()).digest(),
        "ci": hashlib.sha256(f"{GATEWAY}x".encode()).digest(),
        "bot": hashlib.sha256(b"bot-token-0123456789").digest(),
    }


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (f"alice:{TOKEN}\n", "token name 'alice' is also in CLIENT_TOKENS"),
        ("ci\n", "line 1: expected 'name:token'"),
        (f"ci:{GATEWAY}\nci:{GATEWAY}x\n", "line 2: token name 'ci' appears twice"),
        ("ci:short\n", "token 'ci' must be at least 16 characters"),
        ("ci:sha256:abc\n", "token 'ci' must be 'sha256:' and 64 hex digits"),
        (b"ci:\xff\xfe-token-0123456789\n", "cannot be read"),
    ],
)
def test_a_bad_client_tokens_file_names_the_file_and_the_line(
    tmp_path: Path, content: str | bytes, reason: str
) -> None:
    """Every defect of CLIENT_TOKENS_FILE is reported with the variable and the file."""
    tokens_file = tmp_path / "tokens"
    if isinstance(content, bytes):
        tokens_file.write_bytes(content)
    else:
        tokens_file.write_text(content)
    with pytest.raises(SettingsError) as caught:
        load_settings(client_tokens=f"alice:{TOKEN}", client_tokens_file=tokens_file)
    assert f"CLIENT_TOKENS_FILE ({tokens_file})" in str(caught.value)
    assert reason in str(caught.value)
    assert "-token-" not in str(caught.value), "no token value in the message"


@pytest.mark.parametrize("where", ["CLIENT_TOKENS", "CLIENT_TOKENS_FILE"])
@pytest.mark.parametrize("form", ["plain", "sha256"])
def test_the_gateway_token_must_differ_from_every_client_token(
    tmp_path: Path, where: str, form: str
) -> None:
    """Inline or from the file, plain or as sha256:, no client may hold the gateway token."""
    entry = f"bob:{GATEWAY if form == 'plain' else _sha256(GATEWAY)}"
    tokens_file = tmp_path / "tokens"
    tokens_file.write_text(f"carol:{TOKEN}x\n" + (entry if where == "CLIENT_TOKENS_FILE" else ""))
    inline = f"alice:{TOKEN}" + (f",{entry}" if where == "CLIENT_TOKENS" else "")
    with pytest.raises(SettingsError) as caught:
        load_settings(
            openclaw_gateway_token=GATEWAY, client_tokens=inline, client_tokens_file=tokens_file
        )
    assert f"OPENCLAW_GATEWAY_TOKEN: equals the client token 'bob' ({where})" in str(caught.value)
    assert GATEWAY not in str(caught.value)


def test_serve_names_every_missing_secret_at_once() -> None:
    """Without gateway token, client tokens and audit key, one error names all three."""
    with pytest.raises(SettingsError) as caught:
        load_settings().proxy_config()
    lines = str(caught.value).splitlines()
    assert lines[0] == "invalid configuration:"
    assert [line.split(":")[0].strip() for line in lines[1:]] == [
        "OPENCLAW_GATEWAY_TOKEN",
        "CLIENT_TOKENS",
        "AUDIT_KEY",
    ]


def test_approvers_must_be_client_token_names() -> None:
    """A typo in APPROVERS would silently leave nobody able to approve: `serve` refuses it."""
    with pytest.raises(SettingsError) as caught:
        load_settings(
            openclaw_gateway_token=GATEWAY,
            client_tokens=f"alice:{TOKEN}",
            audit_key="k" * 32,
            approvers="alice,bbo",
        ).proxy_config()
    assert "APPROVERS: ['bbo'] are not client token names" in str(caught.value)


def test_unset_paths_mean_the_packaged_files(tmp_path: Path) -> None:
    """From any directory, the rules, model, plugin and quarantine list are the packaged ones."""
    settings = load_settings()
    assert settings.prompt_rules_path == resources.PROMPT_RULES
    assert settings.indirect_rules_path == resources.INDIRECT_RULES
    assert settings.classifier_model_path == resources.CLASSIFIER_MODEL
    assert settings.quarantine_list_path == resources.QUARANTINE_LIST
    assert settings.prompt_guard_dir == resources.PROMPT_GUARD_PLUGIN
    assert settings.governance_policy_path == resources.DEFAULT_POLICY
    assert settings.governance_tools_path == resources.GOVERNANCE_TOOLS
    for path in (settings.prompt_rules_path, settings.classifier_model_path):
        assert path.is_absolute() and path.is_file()
    assert not any(tmp_path.iterdir())


def test_audit_config_needs_the_audit_key(tmp_path: Path) -> None:
    """The audit log's typed config carries the key as bytes; without AUDIT_KEY it names it."""
    with pytest.raises(SettingsError, match=r"AUDIT_KEY: not set.*openssl rand -hex 32"):
        load_settings(audit_log_path=tmp_path / "a.jsonl").audit_config()
    config = load_settings(audit_log_path=tmp_path / "a.jsonl", audit_key="k" * 32).audit_config()
    assert (config.path, config.key) == (tmp_path / "a.jsonl", b"k" * 32)


def test_no_model_url_means_no_provider_and_no_gateway() -> None:
    """Without MODEL_BASE_URL there is no provider; the gateway's config names what it lacks."""
    settings = load_settings()
    assert settings.model_provider_config() is None
    with pytest.raises(SettingsError) as caught:
        settings.model_gateway_config()
    assert [line.split(":")[0].strip() for line in str(caught.value).splitlines()[1:]] == [
        "MODEL_BASE_URL",
        "MODEL_GATEWAY_KEY",
    ]


def test_a_provider_url_without_its_key_is_refused_naming_it() -> None:
    """MODEL_BASE_URL without MODEL_API_KEY fails at start-up, not on the first chat."""
    settings = load_settings(model_base_url="http://127.0.0.1:11434/v1")
    with pytest.raises(SettingsError, match=r"^MODEL_API_KEY: not set.*MODEL_API_KEY=local"):
        settings.model_provider_config()


def test_the_gateway_config_carries_the_provider_and_loopback_listener() -> None:
    """Provider kind, URL, key and model; host and port; the key never shows in its repr."""
    config = load_settings(
        model_base_url="https://api.anthropic.com/v1/",
        model_api_key="sk-ant-secret",
        model_provider="anthropic",
        model_name="claude-x",
        model_gateway_host="::1",
        model_gateway_port=18081,
        model_gateway_key="g" * 32,
    ).model_gateway_config()
    assert (config.provider.kind, config.provider.base_url) == (
        "anthropic",
        "https://api.anthropic.com/v1",
    )
    assert (config.provider.api_key, config.provider.model) == ("sk-ant-secret", "claude-x")
    assert (config.host, config.port, config.gateway_key) == ("::1", 18081, "g" * 32)
    assert config.base_url == "http://[::1]:18081/v1"
    assert "sk-ant-secret" not in repr(config) and "g" * 32 not in repr(config)
    assert config.provider.summary == "claude-x (anthropic) at api.anthropic.com"


@pytest.mark.parametrize("host", ["0.0.0.0", "10.0.0.5", "::", "example.com"])
def test_the_gateway_listens_on_loopback_only(host: str) -> None:
    """A non-loopback MODEL_GATEWAY_HOST is refused, naming the setting."""
    with pytest.raises(SettingsError, match=r"MODEL_GATEWAY_HOST: .*is not loopback"):
        load_settings(model_gateway_host=host)
