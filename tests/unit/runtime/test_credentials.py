"""Generated secrets: created once with 0600, reused, overridden by settings, never exposed."""

from __future__ import annotations

import hashlib
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from openclaw_secure_stack.runtime.credentials import (
    CredentialError,
    prepare_credentials,
    secrets_dir,
)
from openclaw_secure_stack.settings import Settings


def settings_for(tmp_path: Path, **values: object) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path / "data", **values)  # type: ignore[call-arg]


def test_first_run_creates_private_secrets_and_later_runs_reuse_them(tmp_path: Path) -> None:
    """Gateway token, audit key and client token are generated once, 0600, then read back; the
    internal API's token is new on every start and never stored there."""
    first = prepare_credentials(settings_for(tmp_path))
    second = prepare_credentials(settings_for(tmp_path))
    assert replace(first, internal_token="") == replace(second, internal_token="")
    assert first.internal_token != second.internal_token
    assert len(first.internal_token) >= 32
    assert not any(
        first.internal_token in path.read_text()
        for path in secrets_dir(tmp_path / "data").iterdir()
    )
    assert first.generated_client_token and len(first.generated_client_token) >= 40
    assert len(first.audit_key) == 64
    assert first.gateway_token != first.generated_client_token
    for path in secrets_dir(tmp_path / "data").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert first.client_tokens_file is not None
    assert first.client_tokens_file.read_text().startswith("local:")


def test_settings_win_over_generated_files(tmp_path: Path) -> None:
    """Values from the environment or .env are used as given; no client token is generated."""
    credentials = prepare_credentials(
        settings_for(
            tmp_path,
            openclaw_gateway_token="g" * 40,
            audit_key="a" * 40,
            client_tokens="alice:" + "t" * 40,
        )
    )
    assert (credentials.gateway_token, credentials.audit_key) == ("g" * 40, "a" * 40)
    assert credentials.client_tokens_file is None and credentials.generated_client_token is None
    assert not (secrets_dir(tmp_path / "data") / "client-tokens").exists()


def test_a_secret_others_can_read_is_refused(tmp_path: Path) -> None:
    """A group-readable gateway token stops start-up with the chmod fix."""
    prepare_credentials(settings_for(tmp_path))
    token_file = secrets_dir(tmp_path / "data") / "gateway-token"
    token_file.chmod(0o640)
    with pytest.raises(CredentialError, match=r"readable by other users.*chmod 600"):
        prepare_credentials(settings_for(tmp_path))


def test_a_client_token_equal_to_the_gateway_token_is_refused(tmp_path: Path) -> None:
    """Clients must never hold the gateway token."""
    first = prepare_credentials(settings_for(tmp_path))
    assert first.client_tokens_file is not None
    first.client_tokens_file.write_text(f"local:{first.gateway_token}\n")
    with pytest.raises(CredentialError, match="equals the gateway token"):
        prepare_credentials(settings_for(tmp_path))


def test_an_empty_secret_file_is_an_error_with_the_fix(tmp_path: Path) -> None:
    """An empty file is not silently used as an empty key."""
    directory = secrets_dir(tmp_path / "data")
    directory.mkdir(parents=True)
    (directory / "audit-key").touch(mode=0o600)
    with pytest.raises(CredentialError, match="empty: delete it"):
        prepare_credentials(settings_for(tmp_path))


@pytest.mark.parametrize("entry", ["plain", "sha256"])
def test_a_configured_client_token_equal_to_the_stored_gateway_token_is_refused(
    tmp_path: Path, entry: str
) -> None:
    """A CLIENT_TOKENS entry (plain or sha256:) equal to the gateway token `up` generated earlier
    is refused: the comparison is by digest."""
    gateway = prepare_credentials(settings_for(tmp_path)).gateway_token
    value = (
        gateway if entry == "plain" else "sha256:" + hashlib.sha256(gateway.encode()).hexdigest()
    )
    with pytest.raises(CredentialError, match="'bob' equals the gateway token"):
        prepare_credentials(settings_for(tmp_path, client_tokens=f"bob:{value}"))
