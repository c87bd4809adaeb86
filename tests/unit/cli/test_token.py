"""`token new NAME`: a random token and the exact CLIENT_TOKENS entries that enable it."""

import hashlib
import json

import pytest
from typer.testing import CliRunner

from openclaw_secure_stack.cli.main import app
from openclaw_secure_stack.cli.token import hashed_token
from openclaw_secure_stack.settings import load_settings


def new_token(*args: str):
    return CliRunner().invoke(app, ["token", "new", *args])


def test_prints_token_and_both_entries():
    """Text output shows the token and the hashed and plain CLIENT_TOKENS lines for it."""
    result = new_token("alice")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    token = lines[1].strip()
    digest = hashlib.sha256(token.encode()).hexdigest()
    assert lines[0] == "New token for alice (shown once: give it to the client now):"
    assert f"  CLIENT_TOKENS=alice:sha256:{digest}" in lines
    assert f"  CLIENT_TOKENS=alice:{token}" in lines


def test_json_output_is_consistent_and_random():
    """--format json gives token and entries; the token is 43 url-safe chars, new each time."""
    first, second = (json.loads(new_token("ci.bot-1", "--format", "json").stdout) for _ in "ab")
    assert first["token"] != second["token"]
    assert len(first["token"]) == 43
    assert set(first["token"]) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    )
    assert first == {
        "name": "ci.bot-1",
        "token": first["token"],
        "entry": f"ci.bot-1:{first['token']}",
        "hashed_entry": f"ci.bot-1:{hashed_token(first['token'])}",
    }


def test_settings_accept_the_printed_entries():
    """Both printed entries parse as CLIENT_TOKENS, also appended to an existing list."""
    document = json.loads(new_token("alice", "--format", "json").stdout)
    bob = "bob-token-0123456789"
    settings = load_settings(client_tokens=f"bob:{bob},{document['hashed_entry']}")
    assert settings.client_tokens == {"bob": bob, "alice": hashed_token(document["token"])}
    assert load_settings(client_tokens=document["entry"]).client_tokens == {
        "alice": document["token"]
    }


@pytest.mark.parametrize("name", ["", "a b", "a:b", "a,b", "x" * 65, "ålice", "a\nb", "a/b"])
def test_invalid_names_are_refused(name):
    """Names outside [A-Za-z0-9_.-]{1,64} exit 2 with the rule, and print no token."""
    result = new_token(name)
    assert result.exit_code == 2
    assert "use 1-64 of A-Z a-z 0-9 _ . -" in result.stderr
    assert result.stdout == ""


def test_longest_valid_name_is_accepted():
    """A 64-character name is the limit and is accepted."""
    assert new_token("n" * 64).exit_code == 0
