"""The internal API: provenance for the governance engine, behind its own token, audited."""

from __future__ import annotations

import pytest
from tests.fakes.asgi import call
from tests.fakes.model_providers import Call, FakeOpenAI, Turn
from tests.unit.model_gateway.conftest import GATEWAY_KEY, MakeGateway, config_for
from tests.unit.model_gateway.test_app import INJECTION, chat, post, tool_turn

from openclaw_secure_stack.model_gateway.config import GatewayConfig, GatewayConfigError
from openclaw_secure_stack.model_gateway.internal import ROUTES

INTERNAL_TOKEN = "internal-token-for-tests-0123456789abcdef"
INTERNAL = [("authorization", f"Bearer {INTERNAL_TOKEN}")]


async def test_provenance_of_a_proposed_call_is_served_by_its_id(
    make_gateway: MakeGateway, fake_openai: FakeOpenAI
) -> None:
    """After the model proposes a call having read an injected result, the call's provenance
    is served under any underscore spelling of its id: the result read, its rules, untrusted."""
    app, sink = make_gateway(fake_openai, internal_token=INTERNAL_TOKEN)
    fake_openai.step = Turn("", calls=(Call("exec", {"command": "ls"}, call_id="call_x_9"),))
    assert (await post(app, chat(*tool_turn(INJECTION, call_id="call_r_1")))).status == 200
    answers = [
        await call(app, "GET", f"/internal/provenance/{call_id}", headers=INTERNAL)
        for call_id in ("call_x_9", "callx9")
    ]
    assert [answer.status for answer in answers] == [200, 200]
    record = answers[0].json()
    assert answers[1].json() == record
    assert (record["call_id"], record["tool"], record["untrusted"]) == ("call_x_9", "exec", True)
    [read] = record["read"]
    assert (read["tool"], read["call_id"], read["decision"]) == ("web_fetch", "callr1", "reject")
    assert read["rules"]
    audited = sink.named("model_gateway.internal")
    assert [(e.outcome, e.actor, e.details["status"]) for e in audited] == [
        ("allow", "internal", 200),
        ("allow", "internal", 200),
    ]
    assert audited[0].details["call_id"] == "call_x_9"


@pytest.mark.parametrize(
    ("method", "path", "headers", "status", "actor"),
    [
        ("GET", "/internal/provenance/unknown1", INTERNAL, 404, "internal"),
        ("GET", "/internal/provenance/", INTERNAL, 404, "internal"),
        ("GET", "/internal/provenance/a/b", INTERNAL, 404, "internal"),
        ("GET", "/internal/other/x", INTERNAL, 404, "internal"),
        ("POST", "/internal/provenance/x", INTERNAL, 405, "internal"),
        ("GET", "/internal/provenance/x", [], 401, None),
        ("GET", "/internal/provenance/x", [("authorization", f"Bearer {GATEWAY_KEY}")], 401, None),
        ("GET", "/internal/provenance/x", [*INTERNAL, *INTERNAL], 401, None),
    ],
)
async def test_refusals_are_json_errors_and_audited(
    make_gateway: MakeGateway,
    fake_openai: FakeOpenAI,
    method: str,
    path: str,
    headers: list[tuple[str, str]],
    status: int,
    actor: str | None,
) -> None:
    """Unknown ids and routes 404, wrong methods 405; no token, OpenClaw's gateway key or two
    Authorization headers 401. Each is an OpenAI-format error with a `deny` record."""
    app, sink = make_gateway(fake_openai, internal_token=INTERNAL_TOKEN)
    answer = await call(app, method, path, headers=headers)
    assert answer.status == status
    assert answer.json()["error"]["code"]
    [record] = sink.named("model_gateway.internal")
    assert (record.outcome, record.actor, record.details["status"]) == ("deny", actor, status)
    assert not sink.named("model_gateway.call")


async def test_without_a_token_the_internal_api_is_closed(
    make_gateway: MakeGateway, fake_openai: FakeOpenAI
) -> None:
    """A gateway started without an internal token answers 401 to every internal request,
    whatever is presented (an empty bearer included)."""
    app, _ = make_gateway(fake_openai)
    for headers in ([], [("authorization", "Bearer ")], INTERNAL):
        answer = await call(app, "GET", "/internal/provenance/x", headers=headers)
        assert answer.status == 401


async def test_the_internal_token_opens_no_model_route(
    make_gateway: MakeGateway, fake_openai: FakeOpenAI
) -> None:
    """The internal token is not the gateway key: model calls with it are 401, nothing sent."""
    app, _ = make_gateway(fake_openai, internal_token=INTERNAL_TOKEN)
    answer = await post(app, chat({"role": "user", "content": "hi"}), headers=INTERNAL)
    assert answer.status == 401
    assert fake_openai.requests == []


@pytest.mark.parametrize("token", ["short", GATEWAY_KEY])
def test_an_unusable_internal_token_is_refused(token: str) -> None:
    """Shorter than 32 characters, or equal to the gateway key OpenClaw holds: refused."""
    base = config_for(FakeOpenAI())
    with pytest.raises(GatewayConfigError, match="internal token"):
        GatewayConfig(base.gateway_key, base.provider, internal_token=token)


def test_every_route_stays_under_internal_and_only_decide_is_a_post() -> None:
    """The route table stays under /internal/; the one POST is the governance decision, and
    only governance routes are open to the plugin's token."""
    assert ROUTES
    for route in ROUTES:
        assert route.prefix.startswith("/internal/")
        assert route.method == "GET" or route.name == "governance.decide"
        assert route.prefix.endswith("/") or route.exact
        assert not route.plugin or route.name.startswith("governance.")
