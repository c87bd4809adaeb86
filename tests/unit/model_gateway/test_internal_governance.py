"""The internal API's governance routes: the plugin's decide and approval-state requests."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.fakes.asgi import call
from tests.fakes.model_providers import FakeOpenAI
from tests.unit.model_gateway.conftest import MakeGateway

from openclaw_secure_stack import resources
from openclaw_secure_stack.audit.sink import CapturingSink
from openclaw_secure_stack.governance import Engine, load_policies, load_tool_table
from openclaw_secure_stack.governance.endpoint import GovernanceEndpoint
from openclaw_secure_stack.governance.service import Governance
from openclaw_secure_stack.governance.store import SqliteStore
from openclaw_secure_stack.model_gateway.provenance import MemoryProvenance

INTERNAL_TOKEN = "internal-token-for-tests-0123456789abcdef"
PLUGIN_TOKEN = "plugin-token-for-tests-0123456789abcdefgh"
PLUGIN = [("authorization", f"Bearer {PLUGIN_TOKEN}"), ("content-type", "application/json")]
EVENT = {
    "toolName": "exec",
    "params": {"command": "rm -rf /"},
    "sessionKey": "agent:main:oss:local:openai-user:u",
    "toolCallId": "call_1",
}


@pytest.fixture
async def endpoint(tmp_path: Path) -> AsyncIterator[GovernanceEndpoint]:
    store = SqliteStore(tmp_path / "gov.sqlite")
    engine = Engine(
        load_policies(resources.DEFAULT_POLICY), load_tool_table(resources.GOVERNANCE_TOOLS)
    )
    places = {name: tmp_path / name for name in ("workspace", "home", "state", "config")}
    yield GovernanceEndpoint(
        Governance(engine, store, places, CapturingSink()), MemoryProvenance(8)
    )
    await store.close()


async def test_the_plugin_token_gets_a_decision(
    make_gateway: MakeGateway, fake_openai: FakeOpenAI, endpoint: GovernanceEndpoint
) -> None:
    """POST decide with the plugin's token: the decision, audited as the plugin's request."""
    app, sink = make_gateway(
        fake_openai,
        internal_token=INTERNAL_TOKEN,
        plugin_token=PLUGIN_TOKEN,
        governance=endpoint,
    )
    answer = await call(
        app, "POST", "/internal/governance/decide", headers=PLUGIN, body=json.dumps(EVENT).encode()
    )
    assert answer.status == 200
    assert answer.json()["verdict"] == "block" and answer.json()["policies"] == ["OSS-GOV-002"]
    [record] = sink.named("model_gateway.internal")
    assert (record.outcome, record.actor, record.details["route"]) == (
        "allow",
        "plugin",
        "governance.decide",
    )
    unknown = await call(app, "GET", "/internal/governance/approvals/nope", headers=PLUGIN)
    assert unknown.status == 404


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/internal/provenance/call_1", 401), ("GET", "/internal/governance/decide", 405)],
)
async def test_the_plugin_token_opens_nothing_else(
    make_gateway: MakeGateway,
    fake_openai: FakeOpenAI,
    endpoint: GovernanceEndpoint,
    method: str,
    path: str,
    status: int,
) -> None:
    """Provenance stays the stack's; the plugin's token is refused there."""
    app, _ = make_gateway(
        fake_openai, internal_token=INTERNAL_TOKEN, plugin_token=PLUGIN_TOKEN, governance=endpoint
    )
    assert (await call(app, method, path, headers=PLUGIN)).status == status


async def test_without_governance_the_routes_answer_503(
    make_gateway: MakeGateway, fake_openai: FakeOpenAI
) -> None:
    """A gateway without governance refuses to decide: the plugin then blocks the call."""
    app, _ = make_gateway(fake_openai, internal_token=INTERNAL_TOKEN, plugin_token=PLUGIN_TOKEN)
    body = json.dumps(EVENT).encode()
    answer = await call(app, "POST", "/internal/governance/decide", headers=PLUGIN, body=body)
    assert answer.status == 503 and answer.json()["error"]["code"] == "governance_unavailable"


async def test_a_bad_event_is_a_400(
    make_gateway: MakeGateway, fake_openai: FakeOpenAI, endpoint: GovernanceEndpoint
) -> None:
    """A body that is not a hook event is refused with the reason."""
    app, _ = make_gateway(
        fake_openai, internal_token=INTERNAL_TOKEN, plugin_token=PLUGIN_TOKEN, governance=endpoint
    )
    answer = await call(app, "POST", "/internal/governance/decide", headers=PLUGIN, body=b"[]")
    assert answer.status == 400
