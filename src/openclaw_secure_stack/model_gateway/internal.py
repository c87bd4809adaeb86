"""The gateway's internal API: what the stack's own services (the governance engine) may ask it.

Separate from OpenClaw's routes in both directions: `/internal/...` accepts only the internal
token (`up` makes one per start, in `DATA_DIR/run/internal-api-token`, 0600, outside OpenClaw's
sandbox), never the gateway key OpenClaw holds, and `/v1/...` never accepts the internal token.
Without a configured token every internal route answers 401. Each route is one row of `ROUTES`;
every answer, refusals included, is audited as `model_gateway.internal` by the app.

    GET /internal/provenance/{tool_call_id}
        200 {"call_id", "tool", "arguments_sha256", "request_id", "model", "untrusted",
             "read": [{"tool", "call_id", "decision", "rules"}]}: what the model had read when it
        proposed this call (any underscore spelling of the id finds it); 404 if unknown or
        evicted.
    POST /internal/governance/decide
        the prompt-guard plugin's `before_tool_call` event in, the governance decision out
        (`governance/api.py`); 400 for a malformed event.
    GET /internal/governance/approvals/{id}
        200 {"id", "state"}: the plugin waits on it for a person; 404 if unknown.

The two governance routes also accept the plugin's own token (`GOVERNANCE_PLUGIN_TOKEN`, new on
every start, given to the plugin inside OpenClaw's sandbox): what a command in the sandbox can
do with it is ask for decisions, never read provenance. Without governance configured they
answer 503, and the plugin blocks the call.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from openclaw_secure_stack.model_gateway.errors import GatewayError
from openclaw_secure_stack.model_gateway.provenance import ProvenanceStore
from openclaw_secure_stack.proxy.flow import Headers

if TYPE_CHECKING:  # governance imports the gateway's decision types: no import cycle at run time
    from openclaw_secure_stack.governance.endpoint import GovernanceEndpoint

PREFIX = "/internal/"
MAX_PARAMETER_CHARS = 256


def bearer_matches(headers: Headers, key: bytes) -> bool:
    """Exactly one `Authorization: Bearer <key>` header, compared in constant time."""
    values = headers.get_all("authorization")
    if len(values) != 1:
        return False
    scheme, _, presented = values[0].partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), key)


@dataclass(frozen=True)
class Answer:
    """A route's JSON answer and what its audit record says about it."""

    status: int
    payload: dict[str, Any]
    details: dict[str, object]


@dataclass(frozen=True)
class Services:
    """What the routes answer from."""

    provenance: ProvenanceStore
    governance: GovernanceEndpoint | None = None


ReadBody = Callable[[], Awaitable[bytes]]


@dataclass(frozen=True)
class Route:
    """`<method> <prefix><parameter>`: one path parameter, the rest of the path after `prefix`
    (none when `exact`); `plugin` routes accept the plugin's token as well."""

    method: str
    prefix: str
    name: str
    handler: Callable[[Services, str, ReadBody], Awaitable[Answer]]
    exact: bool = False
    plugin: bool = False


async def provenance(services: Services, tool_call_id: str, body: ReadBody) -> Answer:
    found = services.provenance.lookup(tool_call_id)
    if found is None:
        raise GatewayError(404, "unknown_tool_call", "no provenance recorded for this tool call")
    payload = {**asdict(found), "untrusted": found.untrusted}
    return Answer(200, payload, {"call_id": found.call_id, "untrusted": found.untrusted})


def _governance(services: Services) -> GovernanceEndpoint:
    if services.governance is None:
        raise GatewayError(503, "governance_unavailable", "governance is not configured here")
    return services.governance


async def decide(services: Services, _: str, body: ReadBody) -> Answer:
    answer = await _governance(services).decide(await body())
    return Answer(answer.status, answer.payload, answer.details)


async def approval(services: Services, approval_id: str, body: ReadBody) -> Answer:
    answer = await _governance(services).approval(approval_id)
    return Answer(answer.status, answer.payload, answer.details)


ROUTES: tuple[Route, ...] = (
    Route("GET", "/internal/provenance/", "provenance", provenance),
    Route("POST", "/internal/governance/decide", "governance.decide", decide, exact=True,
          plugin=True),
    Route("GET", "/internal/governance/approvals/", "governance.approval", approval, plugin=True),
)  # fmt: skip


class InternalAPI:
    """Answers `/internal/...` requests; raises GatewayError (401, 404, 405, 503) to refuse."""

    def __init__(
        self, token: str | None, services: Services, plugin_token: str | None = None
    ) -> None:
        self._token = token.encode() if token else None
        self._plugin_token = plugin_token.encode() if plugin_token else None
        self._services = services

    def _caller(self, headers: Headers) -> str | None:
        if self._token is not None and bearer_matches(headers, self._token):
            return "internal"
        if self._plugin_token is not None and bearer_matches(headers, self._plugin_token):
            return "plugin"
        return None

    async def answer(
        self, method: str, path: str, headers: Headers, body: ReadBody
    ) -> tuple[str, str, Answer]:
        """The caller ("internal" or "plugin"), the route's name and its answer."""
        caller = self._caller(headers)
        if caller is None:
            raise GatewayError(401, "invalid_internal_token", "a valid internal token is required")
        for route in ROUTES:
            if route.exact:
                if path != route.prefix:
                    continue
                parameter = ""
            else:
                if not path.startswith(route.prefix):
                    continue
                parameter = path[len(route.prefix) :]
                if not parameter or "/" in parameter or len(parameter) > MAX_PARAMETER_CHARS:
                    break
            if caller == "plugin" and not route.plugin:
                raise GatewayError(401, "invalid_internal_token", "this token cannot call this")
            if method != route.method:
                raise GatewayError(405, "method_not_allowed", f"{method} is not allowed here")
            return caller, route.name, await route.handler(self._services, parameter, body)
        raise GatewayError(404, "not_found", f"no such internal endpoint: {path[:200]}")
