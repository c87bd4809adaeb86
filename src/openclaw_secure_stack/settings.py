"""The one place configuration is read and checked: the environment and `.env`, at start-up.

`.env` is read from the working directory when it is there; the environment wins over it. Every
variable is parsed and checked here (client tokens inline and from CLIENT_TOKENS_FILE, plain and
`sha256:`, the gateway token against every client token, the audit key, paths, ports, timeouts,
thresholds); components receive the typed values (`UpstreamConfig`, `AuditConfig`, ...), never
`Settings`. A bad value stops start-up with `SettingsError`, whose message names each variable
and its fix.
"""

from __future__ import annotations

import hashlib
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from openclaw_secure_stack import resources
from openclaw_secure_stack.model_gateway.config import (
    LOOPBACK,
    GatewayConfig,
    GatewayConfigError,
    ProviderConfig,
)

MIB = 1024 * 1024
MIN_TOKEN_CHARS = 16
# RFC 6750 b64token characters (before any trailing '='): what a client can send as a bearer.
TOKEN_CHARS = frozenset(string.ascii_letters + string.digits + "-._~+/")
_HEX = frozenset(string.hexdigits)
_TOKEN_NAME = frozenset(string.ascii_letters + string.digits + "_.-")
_NEW_CLIENT_HINT = "make one with: openclaw-secure-stack token new NAME"


class SettingsError(Exception):
    """Configuration that cannot be used; the message says which setting and how to fix it."""


@dataclass(frozen=True)
class UpstreamConfig:
    """How the proxy reaches OpenClaw."""

    base_url: str
    gateway_token: str
    connect_timeout: float
    read_timeout: float
    stream_read_timeout: float
    ready_path: str
    max_message_bytes: int


@dataclass(frozen=True)
class AuditConfig:
    path: Path
    key: bytes
    rotate_bytes: int
    anchor_path: Path | None
    fsync: bool


@dataclass(frozen=True)
class DetectionConfig:
    """Where the rules and the classifier are, and how the proxy runs them."""

    prompt_rules: Path
    indirect_rules: Path
    classifier_model: Path
    flag_threshold: float | None
    reject_threshold: float | None
    thread_threshold_bytes: int
    response_scan_buffer_bytes: int


# --- phone relays (Telegram and WhatsApp webhooks): issue 24 ---------------------------------
@dataclass(frozen=True)
class TelegramConfig:
    bot_token: str
    secret: str  # what every delivery carries in X-Telegram-Bot-Api-Secret-Token
    allowed_users: frozenset[str]
    allowed_chats: frozenset[str]  # group chats; an allowed user's private chat always counts
    api_url: str
    approvers: frozenset[str] = frozenset()


@dataclass(frozen=True)
class WhatsAppConfig:
    access_token: str
    app_secret: str
    verify_token: str
    phone_number_id: str
    allowed_numbers: frozenset[str]
    api_url: str
    approvers: frozenset[str] = frozenset()


@dataclass(frozen=True)
class WebhookConfig:
    """The relays that are configured (at least one) and how their queue, limits and replies
    behave."""

    telegram: TelegramConfig | None
    whatsapp: WhatsAppConfig | None
    queue_size: int
    workers: int
    sender_per_minute: float
    chat_per_minute: float
    burst: int
    replay_ttl: float
    replay_path: Path
    tell_unknown: bool
    reply_attempts: int
    reply_max_wait: float


# Under DATA_DIR/secrets, written by `telegram set-webhook`.
TELEGRAM_SECRET_FILE = "telegram-webhook-secret"  # noqa: S105 - a file name
_TELEGRAM_SECRET_CHARS = frozenset(string.ascii_letters + string.digits + "_-")


def _id_list(value: object, *, allow_minus: bool) -> object:
    """'1, 2,3' -> {'1', '2', '3'}; each entry must be a decimal id (a '+' before a phone number
    is dropped)."""
    if not isinstance(value, str):
        return value
    ids = set()
    for raw in value.split(","):
        entry = raw.strip().removeprefix("+")
        if not entry:
            continue
        digits = entry[1:] if allow_minus and entry.startswith("-") else entry
        if not (digits.isascii() and digits.isdigit()):
            raise ValueError(f"{entry!r} is not a numeric id; give ids separated by commas")
        ids.add(entry)
    return frozenset(ids)


# --- end of phone relays -----------------------------------------------------------------------


@dataclass(frozen=True)
class GovernanceConfig:
    """The governance engine's policy and tool table, its store, and who may approve."""

    policy_path: Path
    tools_path: Path
    db_path: Path
    approvers: frozenset[str]
    approval_ttl: float


@dataclass(frozen=True)
class ProxyConfig:
    """Everything `serve` needs, complete: the required secrets are present."""

    host: str
    port: int
    workers: int
    routes: Path
    max_body_bytes: int
    client_timeout: float
    client_digests: Mapping[str, bytes]
    upstream: UpstreamConfig
    audit: AuditConfig
    detection: DetectionConfig
    governance: GovernanceConfig
    webhooks: WebhookConfig | None = None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    # --- ingress proxy -------------------------------------------------------------------
    proxy_host: str = Field(
        "127.0.0.1", min_length=1, description="Address the ingress proxy listens on."
    )
    proxy_port: int = Field(8080, ge=1, le=65535, description="Port of the ingress proxy.")
    proxy_workers: int = Field(1, ge=1, le=64, description="Proxy worker processes.")
    proxy_routes_path: Path = Field(
        resources.OPENCLAW_ROUTES,
        description="Route table: the only OpenClaw routes the proxy forwards (all else is 403).",
    )
    upstream_url: str = Field(
        "http://127.0.0.1:18789",
        description="Base URL of the OpenClaw gateway the proxy forwards to (http or https).",
    )
    openclaw_gateway_token: SecretStr | None = Field(
        None,
        description="Token the proxy presents to OpenClaw. Never given to clients.",
    )
    client_tokens: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict,
        description=(
            "Named client tokens: 'name:token,name2:token2'. A token may be given as "
            "'sha256:<hex>' so the plain token is not stored."
        ),
    )
    client_tokens_file: Path | None = Field(
        None, description="File with one 'name:token' (or 'name:sha256:<hex>') per line."
    )
    max_body_bytes: int = Field(10 * MIB, ge=1024, description="Largest request body accepted.")
    connect_timeout: float = Field(30.0, gt=0, description="Seconds to connect to the upstream.")
    read_timeout: float = Field(30.0, gt=0, description="Seconds to wait for an upstream reply.")
    stream_read_timeout: float = Field(
        300.0, gt=0, description="Seconds allowed between chunks of a streamed reply."
    )
    client_timeout: float = Field(
        15.0,
        gt=0,
        description=(
            "Seconds a client may take to send its request headers, and between chunks of "
            "its request body (against slow-sending clients)."
        ),
    )
    upstream_ready_path: str = Field(
        "/readyz", description="Upstream path that answers 2xx when OpenClaw is ready."
    )

    # --- audit log -----------------------------------------------------------------------
    audit_log_path: Path = Field(
        Path(".oss-data/audit/audit.jsonl"), description="Append-only JSON Lines audit log."
    )
    audit_key: SecretStr | None = Field(
        None,
        description="Key for the HMAC-SHA256 chain over audit records (at least 32 characters).",
    )
    audit_rotate_bytes: int = Field(
        64 * MIB, ge=4096, description="Rotate the audit log when it grows past this size."
    )
    audit_anchor_path: Path | None = Field(
        None,
        description=(
            "Signed checkpoint of the audit chain's head, kept outside the log so truncation and "
            "deletion show (default: AUDIT_LOG_PATH + '.anchor')."
        ),
    )
    audit_fsync: bool = Field(
        True,
        description="fdatasync each intent record before the request is forwarded.",
    )

    # --- runtime (the supervised OpenClaw) -----------------------------------------------
    data_dir: Path = Field(
        Path(".oss-data"),
        description="Where the stack keeps OpenClaw's state, config, logs and generated tokens.",
    )
    openclaw_port: int = Field(18789, ge=1, le=65535, description="Loopback port for OpenClaw.")
    model_base_url: str | None = Field(
        None,
        description="OpenAI-compatible base URL OpenClaw's model calls go to (e.g. .../v1).",
    )
    model_api_key: SecretStr | None = Field(
        None,
        description=(
            "API key for MODEL_BASE_URL; only the model gateway's process holds it (a local "
            "server that needs none takes any value)."
        ),
    )
    model_name: str = Field(
        "gpt-4o-mini", min_length=1, description="Model id requested from the provider."
    )
    model_provider: Literal["openai", "anthropic"] = Field(
        "openai",
        description=(
            "What MODEL_BASE_URL speaks: openai (OpenAI-compatible: OpenAI, Ollama, vLLM, ...) "
            "or anthropic (the Messages API)."
        ),
    )
    model_gateway_host: str = Field(
        "127.0.0.1", description="Loopback address the model gateway listens on."
    )
    model_gateway_port: int = Field(
        8081, ge=1, le=65535, description="Port of the model gateway (OpenClaw's provider)."
    )
    model_gateway_key: SecretStr | None = Field(
        None,
        description=(
            "Key OpenClaw presents to the model gateway (`model-gateway`; `up` makes a new one "
            "on every start)."
        ),
    )
    internal_api_token: SecretStr | None = Field(
        None,
        description=(
            "Token of the stack's internal API (the model gateway's /internal/ routes); `up` "
            "makes one on every start, in DATA_DIR/run/internal-api-token."
        ),
    )
    governance_plugin_token: SecretStr | None = Field(
        None,
        description=(
            "Token the prompt-guard plugin presents to the governance routes of the internal "
            "API (and nothing else); `up` makes one on every start."
        ),
    )
    openclaw_install_dir: Path | None = Field(
        None,
        description="Where npm installs the pinned OpenClaw (default: DATA_DIR/runtime).",
    )
    openclaw_sandbox: Literal["bwrap", "off"] = Field(
        "bwrap",
        description=(
            "Run OpenClaw in a bubblewrap sandbox that hides the stack's secrets from it "
            "(bwrap), or unisolated (off)."
        ),
    )
    prompt_guard_dir: Path = Field(
        resources.PROMPT_GUARD_PLUGIN,
        description="The prompt-guard OpenClaw plugin folder (default: the packaged one).",
    )
    quarantine_list_path: Path = Field(
        resources.QUARANTINE_LIST,
        description="Quarantined tools, skills and plugins the prompt-guard plugin blocks.",
    )

    # --- detection -----------------------------------------------------------------------
    prompt_rules_path: Path = Field(
        resources.PROMPT_RULES, description="Rules for text a person writes."
    )
    indirect_rules_path: Path = Field(
        resources.INDIRECT_RULES,
        description="Rules for tool results, fetched content and upstream responses.",
    )
    scanner_rules_path: Path = Field(
        resources.SCANNER_RULES,
        description="Rules of the skill scanner (`scan`), its domain allowlist and host lists.",
    )
    classifier_model_path: Path = Field(
        resources.CLASSIFIER_MODEL,
        description="Manifest of the direct-injection classifier (its weights sit beside it).",
    )
    classifier_flag_threshold: float | None = Field(
        None,
        gt=0,
        lt=1,
        description=(
            "Classifier probability at which a user message is flagged (passes, audited, header). "
            "Default: the threshold recorded with the model (2% false positives on validation)."
        ),
    )
    classifier_reject_threshold: float | None = Field(
        None,
        gt=0,
        lt=1,
        description=(
            "Classifier probability at which a user message is rejected with 400. Default: the "
            "threshold recorded with the model (0.5% false positives on validation)."
        ),
    )
    detect_thread_threshold_bytes: int = Field(
        32 * 1024,
        ge=0,
        description="Scan text larger than this in a worker thread, off the event loop.",
    )
    response_scan_buffer_bytes: int = Field(
        4 * MIB,
        ge=1024,
        description=(
            "Non-streaming replies up to this size are held, scanned and flagged with a header; "
            "larger ones are scanned as they stream."
        ),
    )

    # --- governance ----------------------------------------------------------------------
    governance_policy_path: Path = Field(
        resources.DEFAULT_POLICY,
        description="Governance policies for every tool call (default: the packaged one).",
    )
    governance_tools_path: Path = Field(
        resources.GOVERNANCE_TOOLS,
        description="Table of OpenClaw's tools and their parameters (default: the packaged one).",
    )
    governance_db_path: Path | None = Field(
        None,
        description=(
            "SQLite file for approvals, rate counters and session history "
            "(default: DATA_DIR/governance/governance.sqlite)."
        ),
    )
    approvers: Annotated[frozenset[str], NoDecode] = Field(
        default_factory=frozenset,
        description="Client token names with the approver role: 'alice,bob'.",
    )
    approval_ttl_seconds: float = Field(
        600.0, gt=0, le=86400, description="Seconds an approval stays valid (asked or granted)."
    )

    # --- phone relays (Telegram and WhatsApp webhooks): issue 24 -----------------------------
    telegram_bot_token: SecretStr | None = Field(
        None, description="Bot token from @BotFather; enables POST /webhook/telegram."
    )
    telegram_webhook_secret: SecretStr | None = Field(
        None,
        description=(
            "Secret Telegram sends with every delivery (1-256 of A-Z a-z 0-9 _ -); default: the "
            "one `telegram set-webhook` wrote to DATA_DIR/secrets."
        ),
    )
    telegram_allowed_users: Annotated[frozenset[str], NoDecode] = Field(
        frozenset(), description="Telegram user ids whose messages reach the agent: '123,456'."
    )
    telegram_allowed_chats: Annotated[frozenset[str], NoDecode] = Field(
        frozenset(),
        description="Group chat ids (negative) where allowed users may talk to the agent.",
    )
    telegram_approvers: Annotated[frozenset[str], NoDecode] = Field(
        frozenset(),
        description="Allowed Telegram users who may approve tool calls from the phone.",
    )
    telegram_api_url: str = Field(
        "https://api.telegram.org", description="Base URL of the Telegram Bot API."
    )
    whatsapp_access_token: SecretStr | None = Field(
        None, description="WhatsApp Cloud API access token; enables /webhook/whatsapp."
    )
    whatsapp_app_secret: SecretStr | None = Field(
        None,
        description="Meta app secret that signs each delivery (X-Hub-Signature-256).",
    )
    whatsapp_verify_token: SecretStr | None = Field(
        None,
        description="Verify token you choose for the subscription handshake (hub.verify_token).",
    )
    whatsapp_phone_number_id: str | None = Field(
        None, pattern=r"^[0-9]+$", description="Phone number id the replies are sent from."
    )
    whatsapp_allowed_numbers: Annotated[frozenset[str], NoDecode] = Field(
        frozenset(), description="WhatsApp numbers (wa_id, digits) that reach the agent."
    )
    whatsapp_approvers: Annotated[frozenset[str], NoDecode] = Field(
        frozenset(),
        description="Allowed WhatsApp numbers that may approve tool calls from the phone.",
    )
    whatsapp_api_url: str = Field(
        "https://graph.facebook.com/v23.0", description="Base URL of the Graph API, versioned."
    )
    webhook_queue_size: int = Field(
        64, ge=1, le=10_000, description="Messages waiting for the agent; full: 503, retried."
    )
    webhook_workers: int = Field(4, ge=1, le=64, description="Messages relayed at once.")
    webhook_sender_per_minute: float = Field(
        20.0, gt=0, description="Messages per minute one sender may send (token bucket)."
    )
    webhook_chat_per_minute: float = Field(
        60.0, gt=0, description="Messages per minute one chat may send (token bucket)."
    )
    webhook_burst: int = Field(5, ge=1, le=1000, description="Bucket size of both rate limits.")
    webhook_replay_ttl_seconds: float = Field(
        7 * 24 * 3600.0,
        ge=60,
        description="How long a delivered message id is remembered (WhatsApp retries 7 days).",
    )
    webhook_replay_path: Path | None = Field(
        None,
        description="SQLite file of seen message ids (default: DATA_DIR/webhooks/replay.sqlite).",
    )
    webhook_tell_unknown: bool = Field(
        False, description="Tell an unknown sender once that the agent does not answer them."
    )
    webhook_reply_attempts: int = Field(
        5, ge=1, le=20, description="Attempts to deliver a reply (429 and 5xx are retried)."
    )
    webhook_reply_max_wait: float = Field(
        60.0, gt=0, description="Longest wait between reply attempts, retry_after included."
    )

    @field_validator(
        "telegram_allowed_users", "telegram_allowed_chats", "telegram_approvers", mode="before"
    )
    @classmethod
    def _telegram_ids(cls, value: object) -> object:
        return _id_list(value, allow_minus=True)

    @field_validator("whatsapp_allowed_numbers", "whatsapp_approvers", mode="before")
    @classmethod
    def _whatsapp_numbers(cls, value: object) -> object:
        return _id_list(value, allow_minus=False)

    @field_validator("telegram_bot_token")
    @classmethod
    def _bot_token(cls, value: SecretStr | None) -> SecretStr | None:
        bot, sep, key = (value.get_secret_value() if value is not None else "1:x").partition(":")
        if not (sep and bot.isascii() and bot.isdigit() and key):
            raise ValueError("must look like 123456:ABC... (the token @BotFather gave you)")
        return value

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _telegram_secret(cls, value: SecretStr | None) -> SecretStr | None:
        secret = value.get_secret_value() if value is not None else "x"
        if not 1 <= len(secret) <= 256 or not _TELEGRAM_SECRET_CHARS.issuperset(secret):
            raise ValueError("must be 1-256 of A-Z a-z 0-9 _ - (Telegram's secret_token)")
        return value

    @field_validator("whatsapp_app_secret", "whatsapp_verify_token")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters")
        return value

    @field_validator("telegram_api_url", "whatsapp_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("webhook_replay_path")
    @classmethod
    def _replay_file(cls, value: Path | None) -> Path | None:
        if value is not None and value.is_dir():
            raise ValueError(f"{value} is a directory; give a file path")
        return value

    def webhook_config(self) -> WebhookConfig | None:
        """The relays, or None when neither TELEGRAM_BOT_TOKEN nor WHATSAPP_ACCESS_TOKEN is set.
        Raises SettingsError naming every setting a configured relay still needs."""
        problems: list[str] = []
        telegram = self._telegram_config(problems)
        whatsapp = self._whatsapp_config(problems)
        if problems:
            raise SettingsError("invalid configuration:\n  " + "\n  ".join(problems))
        if telegram is None and whatsapp is None:
            return None
        return WebhookConfig(
            telegram=telegram,
            whatsapp=whatsapp,
            queue_size=self.webhook_queue_size,
            workers=self.webhook_workers,
            sender_per_minute=self.webhook_sender_per_minute,
            chat_per_minute=self.webhook_chat_per_minute,
            burst=self.webhook_burst,
            replay_ttl=self.webhook_replay_ttl_seconds,
            replay_path=self.webhook_replay_file(),
            tell_unknown=self.webhook_tell_unknown,
            reply_attempts=self.webhook_reply_attempts,
            reply_max_wait=self.webhook_reply_max_wait,
        )

    def webhook_replay_file(self) -> Path:
        return self.webhook_replay_path or self.data_dir / "webhooks" / "replay.sqlite"

    def telegram_secret_file(self) -> Path:
        return self.data_dir / "secrets" / TELEGRAM_SECRET_FILE

    def _telegram_config(self, problems: list[str]) -> TelegramConfig | None:
        if self.telegram_bot_token is None:
            return None
        secret = self.telegram_webhook_secret
        if secret is None and self.telegram_secret_file().is_file():
            from openclaw_secure_stack.runtime.credentials import (  # it imports this module
                CredentialError,
                read_secret_file,
            )

            try:
                secret = SecretStr(read_secret_file(self.telegram_secret_file()))
            except CredentialError as exc:
                problems.append(f"TELEGRAM_WEBHOOK_SECRET: {exc}")
        if secret is None:
            problems.append(
                "TELEGRAM_WEBHOOK_SECRET: not set and no secret file; run "
                "`openclaw-secure-stack telegram set-webhook URL` (it generates one)"
            )
        if not self.telegram_allowed_users:
            problems.append(
                "TELEGRAM_ALLOWED_USERS: empty; name the Telegram user ids the agent answers "
                "(nobody else's messages reach it)"
            )
        strangers = self.telegram_approvers - self.telegram_allowed_users
        if strangers:
            problems.append(
                f"TELEGRAM_APPROVERS: {', '.join(sorted(strangers))} not in TELEGRAM_ALLOWED_USERS "
                "(an approver must be an allowed user)"
            )
        if secret is None or not self.telegram_allowed_users or strangers:
            return None
        return TelegramConfig(
            bot_token=self.telegram_bot_token.get_secret_value(),
            secret=secret.get_secret_value(),
            allowed_users=self.telegram_allowed_users,
            allowed_chats=self.telegram_allowed_chats,
            api_url=self.telegram_api_url,
            approvers=self.telegram_approvers,
        )

    def _whatsapp_config(self, problems: list[str]) -> WhatsAppConfig | None:
        if self.whatsapp_access_token is None:
            return None
        needed = {
            "WHATSAPP_APP_SECRET": self.whatsapp_app_secret,
            "WHATSAPP_VERIFY_TOKEN": self.whatsapp_verify_token,
            "WHATSAPP_PHONE_NUMBER_ID": self.whatsapp_phone_number_id,
            "WHATSAPP_ALLOWED_NUMBERS": self.whatsapp_allowed_numbers or None,
        }
        missing = [name for name, value in needed.items() if value is None]
        problems.extend(f"{name}: needed with WHATSAPP_ACCESS_TOKEN" for name in missing)
        strangers = self.whatsapp_approvers - self.whatsapp_allowed_numbers
        if strangers:
            missing.append("WHATSAPP_APPROVERS")
            problems.append(
                f"WHATSAPP_APPROVERS: {', '.join(sorted(strangers))} not in "
                "WHATSAPP_ALLOWED_NUMBERS (an approver must be an allowed number)"
            )
        if (
            missing
            or self.whatsapp_app_secret is None
            or self.whatsapp_verify_token is None
            or self.whatsapp_phone_number_id is None
        ):
            return None
        return WhatsAppConfig(
            access_token=self.whatsapp_access_token.get_secret_value(),
            app_secret=self.whatsapp_app_secret.get_secret_value(),
            verify_token=self.whatsapp_verify_token.get_secret_value(),
            phone_number_id=self.whatsapp_phone_number_id,
            allowed_numbers=self.whatsapp_allowed_numbers,
            api_url=self.whatsapp_api_url,
            approvers=self.whatsapp_approvers,
        )

    # --- end of phone relays ---------------------------------------------------------------

    # name -> SHA-256 of every client token, from CLIENT_TOKENS and CLIENT_TOKENS_FILE.
    _client_digests: dict[str, bytes] = PrivateAttr(default_factory=dict)

    @field_validator("client_tokens", mode="before")
    @classmethod
    def _parse_client_tokens(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_token_lines(value.replace(",", "\n"), source="CLIENT_TOKENS")
        return value

    @field_validator("client_tokens")
    @classmethod
    def _usable_client_tokens(cls, value: dict[str, str]) -> dict[str, str]:
        # Here as well as in the model check, so a bad token is named beside other bad fields.
        token_digests(value, source="CLIENT_TOKENS")
        return value

    @field_validator("approvers", mode="before")
    @classmethod
    def _parse_approvers(cls, value: object) -> object:
        if isinstance(value, str):
            names = frozenset(name.strip() for name in value.split(",") if name.strip())
            bad = sorted(name for name in names if not _TOKEN_NAME.issuperset(name))
            if bad:
                raise ValueError(f"{bad} are not token names (A-Z a-z 0-9 _ . -)")
            return names
        return value

    @field_validator("upstream_url", "model_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/") if value else value

    @field_validator("model_gateway_host")
    @classmethod
    def _loopback_host(cls, value: str) -> str:
        if value not in LOOPBACK:
            raise ValueError(
                f"{value!r} is not loopback; the gateway spends the provider key for whoever "
                f"holds its key, so it listens on {', '.join(sorted(LOOPBACK))} only"
            )
        return value

    @field_validator(
        "audit_key", "model_gateway_key", "internal_api_token", "governance_plugin_token"
    )
    @classmethod
    def _long_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters (try: openssl rand -hex 32)")
        return value

    @field_validator("upstream_ready_path")
    @classmethod
    def _absolute_path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with / (e.g. /readyz)")
        return value

    @field_validator(
        "prompt_rules_path",
        "indirect_rules_path",
        "classifier_model_path",
        "quarantine_list_path",
        "governance_policy_path",
        "governance_tools_path",
        "proxy_routes_path",
        "scanner_rules_path",
    )
    @classmethod
    def _existing_file(cls, value: Path) -> Path:
        if not value.is_file():
            raise ValueError(f"{value} is not a file (unset it to use the packaged one)")
        return value.resolve()

    @field_validator("data_dir", "openclaw_install_dir")
    @classmethod
    def _directory(cls, value: Path | None) -> Path | None:
        if value is not None and value.exists() and not value.is_dir():
            raise ValueError(f"{value} exists and is not a directory")
        return value

    @field_validator(
        "audit_log_path", "audit_anchor_path", "client_tokens_file", "governance_db_path"
    )
    @classmethod
    def _not_a_directory(cls, value: Path | None) -> Path | None:
        if value is not None and value.is_dir():
            raise ValueError(f"{value} is a directory; give a file path")
        return value

    @field_validator("prompt_guard_dir")
    @classmethod
    def _plugin_folder(cls, value: Path) -> Path:
        if not (value / "openclaw.plugin.json").is_file():
            raise ValueError(
                f"{value} is not an OpenClaw plugin folder (no openclaw.plugin.json; "
                "unset it to use the packaged prompt-guard)"
            )
        return value.resolve()

    @model_validator(mode="after")
    def _client_tokens_and_gateway_token(self) -> Settings:
        """Merge the tokens file into the digests; no client may hold the gateway token."""
        digests = token_digests(self.client_tokens, source="CLIENT_TOKENS")
        sources = dict.fromkeys(digests, "CLIENT_TOKENS")
        if self.client_tokens_file is not None:
            source = f"CLIENT_TOKENS_FILE ({self.client_tokens_file})"
            try:
                text = self.client_tokens_file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ValueError(f"{source}: cannot be read ({exc})") from None
            for name, digest in token_digests(
                parse_token_lines(text, source=source), source=source
            ).items():
                if name in digests:
                    raise ValueError(f"{source}: token name {name!r} is also in CLIENT_TOKENS")
                digests[name], sources[name] = digest, "CLIENT_TOKENS_FILE"
        if self.openclaw_gateway_token is not None:
            gateway = self.openclaw_gateway_token.get_secret_value()
            reused = gateway_token_holder(gateway, digests)
            if reused is not None:
                raise ValueError(
                    f"OPENCLAW_GATEWAY_TOKEN: equals the client token {reused!r} "
                    f"({sources[reused]}); clients must never hold the gateway token: "
                    "give the proxy its own (openssl rand -hex 32)"
                )
        self._client_digests = digests
        return self

    @property
    def client_digests(self) -> Mapping[str, bytes]:
        return self._client_digests

    def upstream_config(self) -> UpstreamConfig:
        """Raises SettingsError when OPENCLAW_GATEWAY_TOKEN is not set."""
        if self.openclaw_gateway_token is None:
            raise SettingsError(_MISSING["OPENCLAW_GATEWAY_TOKEN"])
        return UpstreamConfig(
            base_url=self.upstream_url,
            gateway_token=self.openclaw_gateway_token.get_secret_value(),
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            stream_read_timeout=self.stream_read_timeout,
            ready_path=self.upstream_ready_path,
            max_message_bytes=self.max_body_bytes,
        )

    def audit_config(self) -> AuditConfig:
        """Raises SettingsError when AUDIT_KEY is not set."""
        if self.audit_key is None:
            raise SettingsError(_MISSING["AUDIT_KEY"])
        return AuditConfig(
            path=self.audit_log_path,
            key=self.audit_key.get_secret_value().encode(),
            rotate_bytes=self.audit_rotate_bytes,
            anchor_path=self.audit_anchor_path,
            fsync=self.audit_fsync,
        )

    def detection_config(self) -> DetectionConfig:
        return DetectionConfig(
            prompt_rules=self.prompt_rules_path,
            indirect_rules=self.indirect_rules_path,
            classifier_model=self.classifier_model_path,
            flag_threshold=self.classifier_flag_threshold,
            reject_threshold=self.classifier_reject_threshold,
            thread_threshold_bytes=self.detect_thread_threshold_bytes,
            response_scan_buffer_bytes=self.response_scan_buffer_bytes,
        )

    def governance_config(self) -> GovernanceConfig:
        return GovernanceConfig(
            policy_path=self.governance_policy_path,
            tools_path=self.governance_tools_path,
            db_path=self.governance_db_path or self.data_dir / "governance" / "governance.sqlite",
            approvers=self.approvers,
            approval_ttl=self.approval_ttl_seconds,
        )

    def model_provider_config(self) -> ProviderConfig | None:
        """The real provider, or None when no model is configured (no MODEL_BASE_URL).

        Raises SettingsError when MODEL_BASE_URL is set without MODEL_API_KEY: a key-less
        provider would fail on the first chat, not at start-up. A local server that needs no
        key (Ollama, vLLM) accepts any value.
        """
        if self.model_base_url is None:
            return None
        if self.model_api_key is None or not self.model_api_key.get_secret_value():
            raise SettingsError(_MISSING["MODEL_API_KEY"])
        return ProviderConfig(
            kind=self.model_provider,
            base_url=self.model_base_url,
            api_key=self.model_api_key.get_secret_value(),
            model=self.model_name,
        )

    def model_gateway_config(self) -> GatewayConfig:
        """What `model-gateway` runs with; SettingsError names what is missing or unusable."""
        provider = self.model_provider_config()
        missing = [
            _MISSING[variable]
            for variable, gone in (
                ("MODEL_BASE_URL", provider is None),
                ("MODEL_GATEWAY_KEY", self.model_gateway_key is None),
            )
            if gone
        ]
        if missing or provider is None or self.model_gateway_key is None:
            raise SettingsError("invalid configuration:\n  " + "\n  ".join(missing))
        try:
            return GatewayConfig(
                gateway_key=self.model_gateway_key.get_secret_value(),
                provider=provider,
                host=self.model_gateway_host,
                port=self.model_gateway_port,
                internal_token=(
                    self.internal_api_token.get_secret_value() if self.internal_api_token else None
                ),
                plugin_token=(
                    self.governance_plugin_token.get_secret_value()
                    if self.governance_plugin_token
                    else None
                ),
                scan_thread_threshold=self.detect_thread_threshold_bytes,
            )
        except GatewayConfigError as exc:  # every value was checked above: a bug if reached
            raise SettingsError(f"model gateway: {exc}") from None

    def proxy_config(self) -> ProxyConfig:
        """What `serve` runs with; every missing secret is named in one SettingsError."""
        absent = {
            "OPENCLAW_GATEWAY_TOKEN": self.openclaw_gateway_token is None,
            "CLIENT_TOKENS": not self._client_digests,
            "AUDIT_KEY": self.audit_key is None,
        }
        missing = [_MISSING[variable] for variable, gone in absent.items() if gone]
        strangers = sorted(self.approvers - set(self._client_digests))
        if strangers and self._client_digests:
            missing.append(
                f"APPROVERS: {strangers} are not client token names "
                f"(CLIENT_TOKENS / CLIENT_TOKENS_FILE has {sorted(self._client_digests)})"
            )
        if missing:
            raise SettingsError("invalid configuration:\n  " + "\n  ".join(missing))
        return ProxyConfig(
            host=self.proxy_host,
            port=self.proxy_port,
            workers=self.proxy_workers,
            routes=self.proxy_routes_path,
            max_body_bytes=self.max_body_bytes,
            client_timeout=self.client_timeout,
            client_digests=dict(self._client_digests),
            upstream=self.upstream_config(),
            audit=self.audit_config(),
            detection=self.detection_config(),
            governance=self.governance_config(),
            webhooks=self.webhook_config(),
        )


_MISSING = {
    "MODEL_API_KEY": (
        "MODEL_API_KEY: not set, but MODEL_BASE_URL is; set the provider's key (a local server "
        "that needs none, such as Ollama or vLLM, takes any value, e.g. MODEL_API_KEY=local), "
        "or unset MODEL_BASE_URL to run without a model"
    ),
    "MODEL_BASE_URL": (
        "MODEL_BASE_URL: not set; the model gateway needs the provider's base URL "
        "(e.g. https://api.openai.com/v1)"
    ),
    "MODEL_GATEWAY_KEY": (
        "MODEL_GATEWAY_KEY: not set; the key OpenClaw presents to the gateway, at least 32 "
        "characters (`up` makes one on every start)"
    ),
    "OPENCLAW_GATEWAY_TOKEN": (
        "OPENCLAW_GATEWAY_TOKEN: not set; the proxy needs its own token for OpenClaw "
        "(a random secret, also put in OpenClaw's gateway.auth.token)"
    ),
    "CLIENT_TOKENS": (
        "CLIENT_TOKENS: no client tokens configured; set CLIENT_TOKENS=name:token or "
        f"CLIENT_TOKENS_FILE ({_NEW_CLIENT_HINT})"
    ),
    "AUDIT_KEY": (
        "AUDIT_KEY: not set; the audit log needs a key of at least 32 characters "
        "(try: openssl rand -hex 32)"
    ),
}


def token_digests(tokens: Mapping[str, str], *, source: str) -> dict[str, bytes]:
    """name -> SHA-256 digest, from plain tokens or 'sha256:<hex>' entries; ValueError names
    the token (never its value) and the fix."""
    digests: dict[str, bytes] = {}
    for name, token in tokens.items():
        if token.lower().startswith("sha256:"):
            hexdigest = token[len("sha256:") :]
            if len(hexdigest) != 64 or not _HEX.issuperset(hexdigest):
                raise ValueError(f"{source}: token {name!r} must be 'sha256:' and 64 hex digits")
            digests[name] = bytes.fromhex(hexdigest)
        elif len(token) < MIN_TOKEN_CHARS or not TOKEN_CHARS.issuperset(token.rstrip("=")):
            raise ValueError(
                f"{source}: token {name!r} must be at least {MIN_TOKEN_CHARS} characters of "
                f"A-Z a-z 0-9 - . _ ~ + / ({_NEW_CLIENT_HINT})"
            )
        else:
            digests[name] = hashlib.sha256(token.encode()).digest()
    return digests


def gateway_token_holder(gateway_token: str, digests: Mapping[str, bytes]) -> str | None:
    """The name of a client token equal to the gateway token (plain or as its SHA-256)."""
    digest = hashlib.sha256(gateway_token.encode()).digest()
    return next((name for name, known in digests.items() if known == digest), None)


def parse_token_lines(text: str, *, source: str) -> dict[str, str]:
    """Parse 'name:token' lines; blank lines and '#' comments are skipped."""
    tokens: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, token = line.partition(":")
        name, token = name.strip(), token.strip()
        if not sep or not name or not token:
            raise ValueError(f"{source} line {number}: expected 'name:token'")
        if name in tokens:
            raise ValueError(f"{source} line {number}: token name {name!r} appears twice")
        tokens[name] = token
    return tokens


def load_settings(**overrides: object) -> Settings:
    """Build the settings once at start-up, turning validation errors into one readable error."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            setting = ".".join(str(part) for part in error["loc"]).upper()
            message = error["msg"]
            # Checks across several variables name them in their own message.
            problems.append(
                f"{setting}: {message}" if setting else message.removeprefix("Value error, ")
            )
        raise SettingsError("invalid configuration:\n  " + "\n  ".join(problems)) from None
