"""Secrets never reach audit details: fingerprints pass, secret-looking keys and values do not."""

import hashlib

from openclaw_secure_stack.audit.redact import REDACTED, fingerprint, redact


def test_fingerprint_is_short_sha256():
    """fingerprint() is 'sha256:' and the first 16 hex digits of the SHA-256 of the secret."""
    assert fingerprint("s3cret") == "sha256:" + hashlib.sha256(b"s3cret").hexdigest()[:16]
    assert fingerprint(b"s3cret") == fingerprint("s3cret")


def test_secret_keys_are_redacted():
    """Values under token/authorization/password/secret/api_key/cookie keys are redacted."""
    details = {
        "token": "abc",
        "Authorization": "Bearer abc",
        "password": "hunter2",
        "client_secret": "x",
        "api_key": "sk-1",
        "X-Api-Key": "sk-2",
        "cookie": "session=1",
        "gateway_token": {"nested": "value"},
    }
    assert redact(details) == dict.fromkeys(details, REDACTED)


def test_harmless_values_under_secret_keys_survive():
    """Numbers, booleans, null and fingerprints are kept even under a secret-looking key."""
    details = {"max_tokens": 256, "token_valid": False, "token": fingerprint("t"), "secret": None}
    assert redact(details) == details


def test_nested_secrets_and_credential_values_are_redacted():
    """Redaction reaches into nested objects and lists, and catches 'Bearer ...' values anywhere."""
    details = {
        "headers": {"authorization": "Bearer abc", "accept": "*/*"},
        "items": [{"password": "p"}, "Basic dXNlcjpwYXNz", "plain"],
        "note": "bearer sk-live-123",
    }
    assert redact(details) == {
        "headers": {"authorization": REDACTED, "accept": "*/*"},
        "items": [{"password": REDACTED}, REDACTED, "plain"],
        "note": REDACTED,
    }


def test_ordinary_details_are_unchanged():
    """Details without secrets come back equal (tuples become lists, as JSON would)."""
    details = {"path": "/v1/chat/completions", "status": 200, "rules": ("PI-001",)}
    assert redact(details) == {"path": "/v1/chat/completions", "status": 200, "rules": ["PI-001"]}
