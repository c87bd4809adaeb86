"""The one configuration object, read from the environment and `.env`, validated at start-up.

Every part of the stack takes what it needs from `Settings`; nothing else reads the environment.
A bad value stops start-up with `SettingsError`, whose message names the variable and the fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from openclaw_secure_stack import resources

MIB = 1024 * 1024


class SettingsError(Exception):
    """Configuration that cannot be used; the message says which setting and how to fix it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    # --- ingress proxy -------------------------------------------------------------------
    proxy_host: str = Field("127.0.0.1", description="Address the ingress proxy listens on.")
    proxy_port: int = Field(8080, ge=1, le=65535, description="Port of the ingress proxy.")
    proxy_workers: int = Field(1, ge=1, le=64, description="Proxy worker processes.")
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
    model_api_key: SecretStr | None = Field(None, description="API key for MODEL_BASE_URL.")
    model_name: str = Field("gpt-4o-mini", description="Model id requested from the provider.")
    openclaw_install_dir: Path | None = Field(
        None,
        description="Where npm installs the pinned OpenClaw (default: DATA_DIR/runtime).",
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

    @field_validator("client_tokens", mode="before")
    @classmethod
    def _parse_client_tokens(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_token_lines(value.replace(",", "\n"), source="CLIENT_TOKENS")
        return value

    @field_validator("upstream_url", "model_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/") if value else value

    @field_validator("audit_key")
    @classmethod
    def _long_audit_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters (try: openssl rand -hex 32)")
        return value


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
            setting = ".".join(str(part) for part in error["loc"]).upper() or "settings"
            problems.append(f"{setting}: {error['msg']}")
        raise SettingsError("invalid configuration:\n  " + "\n  ".join(problems)) from None
