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
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from openclaw_secure_stack.model_gateway.errors import GatewayError
from openclaw_secure_stack.model_gateway.provenance import ProvenanceStore
from openclaw_secure_stack.proxy.flow import Headers

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
class Route:
    """`GET <prefix><parameter>`: one path parameter, the rest of the path after `prefix`."""

    method: str
    prefix: str
    name: str
    handler: Callable[[ProvenanceStore, str], Answer]


def provenance(store: ProvenanceStore, tool_call_id: str) -> Answer:
    found = store.lookup(tool_call_id)
    if found is None:
        raise GatewayError(404, "unknown_tool_call", "no provenance recorded for this tool call")
    payload = {**asdict(found), "untrusted": found.untrusted}
    return Answer(200, payload, {"call_id": found.call_id, "untrusted": found.untrusted})


ROUTES: tuple[Route, ...] = (Route("GET", "/internal/provenance/", "provenance", provenance),)


class InternalAPI:
    """Answers `/internal/...` requests; raises GatewayError (401, 404, 405) to refuse."""

    def __init__(self, token: str | None, store: ProvenanceStore) -> None:
        self._token = token.encode() if token else None
        self._store = store

    def answer(self, method: str, path: str, headers: Headers) -> tuple[str, Answer]:
        """The route's name and answer."""
        if self._token is None or not bearer_matches(headers, self._token):
            raise GatewayError(401, "invalid_internal_token", "a valid internal token is required")
        for route in ROUTES:
            if not path.startswith(route.prefix):
                continue
            parameter = path[len(route.prefix) :]
            if not parameter or "/" in parameter or len(parameter) > MAX_PARAMETER_CHARS:
                break
            if method != route.method:
                raise GatewayError(405, "method_not_allowed", f"{method} is not allowed here")
            return route.name, route.handler(self._store, parameter)
        raise GatewayError(404, "not_found", f"no such internal endpoint: {path[:200]}")
