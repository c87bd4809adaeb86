"""The secrets `up` needs: a client token, the gateway token, the audit key, and the internal
API's token.

The first three are taken from settings (environment or `.env`) when set there; otherwise each is
generated on first run into a 0600 file under `<data_dir>/secrets/` and reused afterwards. The
internal API's token is new on every start (`up` publishes it in `run/`). A secrets file that
others can read is refused rather than used: a leaked gateway token is full owner access to
OpenClaw.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from openclaw_secure_stack.settings import (
    Settings,
    gateway_token_holder,
    parse_token_lines,
    token_digests,
)

LOCAL_CLIENT = "local"


class CredentialError(Exception):
    """A secrets file is unusable; the message names the file and the fix."""


@dataclass(frozen=True)
class Credentials:
    """What `up` hands to the proxy and to OpenClaw."""

    gateway_token: str
    audit_key: str
    client_tokens_file: Path | None
    # The token `up` prints; None when clients are configured in settings (we may only hold a hash).
    generated_client_token: str | None
    # The internal API's token: new on every start, never kept in secrets/.
    internal_token: str


def secrets_dir(data_dir: Path) -> Path:
    return data_dir / "secrets"


def read_secret_file(path: Path) -> str:
    """The file's stripped content; refuses files that group or others can access."""
    try:
        mode = path.stat().st_mode
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise CredentialError(f"cannot read {path}: {exc.strerror}") from exc
    if stat.S_IMODE(mode) & 0o077:
        raise CredentialError(
            f"{path} is readable by other users (mode {stat.S_IMODE(mode):o}): "
            f"run chmod 600 {path}, and rotate the secret if it may have leaked"
        )
    if not value:
        raise CredentialError(f"{path} is empty: delete it and a new secret is generated")
    return value


def load_or_create_secret(path: Path, make: str) -> str:
    """Read `path`, or create it holding `make` (0600, exclusive: two first runs agree)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_secret_file(path)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(make + "\n")
    return make


def write_private(path: Path, text: str) -> None:
    """Replace `path` atomically with `text`, 0600 from its creation (its directory 0700)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    staging.replace(path)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def prepare_credentials(settings: Settings) -> Credentials:
    """Settings win; anything they leave unset comes from (or goes to) `<data_dir>/secrets/`."""
    directory = secrets_dir(settings.data_dir)
    gateway = settings.openclaw_gateway_token
    audit = settings.audit_key
    gateway_token = (
        gateway.get_secret_value()
        if gateway is not None
        else load_or_create_secret(directory / "gateway-token", new_token())
    )
    audit_key = (
        audit.get_secret_value()
        if audit is not None
        else load_or_create_secret(directory / "audit-key", secrets.token_hex(32))
    )
    if settings.client_digests:
        refuse_gateway_token_for_clients(
            gateway_token, settings.client_digests, "CLIENT_TOKENS / CLIENT_TOKENS_FILE"
        )
        return Credentials(gateway_token, audit_key, None, None, new_token())
    tokens_file = directory / "client-tokens"
    content = load_or_create_secret(tokens_file, f"{LOCAL_CLIENT}:{new_token()}")
    try:
        tokens = parse_token_lines(content, source=str(tokens_file))
        digests = token_digests(tokens, source=str(tokens_file))
    except ValueError as exc:
        raise CredentialError(f"{exc}: fix the file or delete it to generate a new token") from exc
    refuse_gateway_token_for_clients(gateway_token, digests, str(tokens_file))
    return Credentials(gateway_token, audit_key, tokens_file, tokens.get(LOCAL_CLIENT), new_token())


def refuse_gateway_token_for_clients(
    gateway_token: str, client_digests: Mapping[str, bytes], source: str
) -> None:
    """Plain and `sha256:` client entries alike are compared by digest."""
    holder = gateway_token_holder(gateway_token, client_digests)
    if holder is not None:
        raise CredentialError(
            f"the client token {holder!r} equals the gateway token: clients must never hold "
            f"the gateway token; change one of them ({source})"
        )
