"""Auth stage: named bearer tokens, exact exempt paths, a distinct answer for each failure."""

from __future__ import annotations

import hashlib

import pytest

from openclaw_secure_stack.proxy.auth import Auth, bearer_token
from openclaw_secure_stack.proxy.testing import make_flow
from openclaw_secure_stack.settings import token_digests

ALICE = "alice-token-0123456789abcdef"
CI = "ci-token-0123456789abcdef-xyz"


def auth() -> Auth:
    hashed_ci = "sha256:" + hashlib.sha256(CI.encode()).hexdigest()
    return Auth(token_digests({"alice": ALICE, "ci": hashed_ci}, source="test"))


async def run(
    *authorization: str, path: str = "/v1/chat/completions"
) -> tuple[int | None, str | None, object]:
    flow = make_flow(path, headers=[("authorization", value) for value in authorization])
    await auth()(flow)
    status = flow.response.status if flow.response else None
    assert "authorization" not in flow.request.headers
    return status, flow.actor, flow.notes.get("denied")


async def test_valid_plain_token_names_the_actor() -> None:
    """A configured plain token passes and the flow carries the token's name."""
    assert await run(f"Bearer {ALICE}") == (None, "alice", None)


async def test_valid_hashed_token_names_the_actor() -> None:
    """A token configured as sha256:<hex> matches the plain token the client sends."""
    assert await run(f"Bearer {CI}") == (None, "ci", None)


async def test_scheme_is_case_insensitive() -> None:
    """'bearer' and 'BEARER' are the same scheme (RFC 7235)."""
    assert await run(f"bearer {ALICE}") == (None, "alice", None)


@pytest.mark.parametrize("value", [None, "", "Bearer", "Bearer ", "bearer"])
async def test_missing_token_is_401(value: str | None) -> None:
    """No header, an empty one, or a scheme without a token is 401 missing_token."""
    status, actor, denied = await run(*([] if value is None else [value]))
    assert (status, actor, denied) == (401, None, "missing_token")


@pytest.mark.parametrize(
    "value",
    [
        f"Bearer {ALICE}x",
        f"Bearer {ALICE[:-1]}",
        "Bearer wrong-token-0123456789",
        f"Bearer {CI.upper()}",
    ],
)
async def test_wrong_token_is_403(value: str) -> None:
    """A well-formed token that is not configured is 403 invalid_token."""
    assert await run(value) == (403, None, "invalid_token")


async def test_hash_of_a_token_is_not_a_token() -> None:
    """Sending the stored sha256 digest instead of the token does not authenticate."""
    digest = hashlib.sha256(CI.encode()).hexdigest()
    assert await run(f"Bearer {digest}") == (403, None, "invalid_token")


@pytest.mark.parametrize(
    "value",
    [
        f"Basic {ALICE}",
        f"Token {ALICE}",
        f"Bearer {ALICE} extra",
        f"Bearer\t{ALICE}",
        f"Bearer {ALICE},x",
        f"{ALICE}",
    ],
)
async def test_malformed_authorization_is_400(value: str) -> None:
    """Another scheme, extra words or bad characters are 400 malformed_authorization."""
    assert await run(value) == (400, None, "malformed_authorization")


async def test_duplicated_authorization_is_400_even_if_one_is_valid() -> None:
    """Two Authorization headers are refused, whichever comes first."""
    assert await run("Bearer wrong-token-0123456789", f"Bearer {ALICE}") == (
        400,
        None,
        "duplicate_authorization",
    )
    assert await run(f"Bearer {ALICE}", f"Bearer {ALICE}") == (400, None, "duplicate_authorization")


async def test_oversized_authorization_is_400() -> None:
    """A header past 1 KiB is refused before any hashing or comparison."""
    assert await run("Bearer " + "a" * 5000) == (400, None, "oversized_authorization")


@pytest.mark.parametrize("path", ["/health", "/ready"])
async def test_exact_exempt_paths_need_no_token(path: str) -> None:
    """/health and /ready pass without a token (and any sent token is dropped)."""
    assert await run(path=path) == (None, None, None)
    assert await run("Bearer whatever-0123456789abc", path=path) == (None, None, None)


@pytest.mark.parametrize(
    "path", ["/healthz", "/health/", "/HEALTH", "/ready/x", "/health.json", "/v1/health"]
)
async def test_near_exempt_paths_need_a_token(path: str) -> None:
    """A prefix, suffix or case variant of an exempt path is not exempt."""
    assert (await run(path=path))[0] == 401


async def test_401_tells_the_scheme() -> None:
    """The 401 answer carries WWW-Authenticate: Bearer."""
    flow = make_flow()
    await auth()(flow)
    assert flow.response is not None
    assert (flow.response.headers.get("www-authenticate") or "").startswith("Bearer")


@pytest.mark.parametrize(
    ("value", "token"),
    [
        ("Bearer abc", "abc"),
        ("bEaReR   a-b.c_d~e+f/g==", "a-b.c_d~e+f/g=="),
        ("Bearer", None),
        ("Bearer ", None),
        ("Bearer ==", None),
        ("Bearer a=b", None),
        ("Bearer a b", None),
        ("Bearer\tabc", None),
        ("Basic abc", None),
        ("Bearerabc", None),
        ("Bearer \u017fecret", None),  # long s: folds to 's' case-insensitively, still refused
        ("Bearer abc\u00e9", None),
        ("B\u0435arer abc", None),  # Cyrillic e
    ],
)
def test_bearer_token_parses_exactly_the_rfc6750_form(value, token):
    """Only `Bearer` (any case), spaces, then b64token characters with '=' padding at the end."""
    assert bearer_token(value) == token
