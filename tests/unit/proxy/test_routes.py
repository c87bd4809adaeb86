"""The route allowlist: the shipped table's own examples, the pattern syntax, and refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from openclaw_secure_stack.proxy.routes import (
    Routes,
    RouteTable,
    RouteTableError,
    load_route_entries,
    load_route_table,
    table_from_entries,
)
from openclaw_secure_stack.proxy.testing import make_flow
from openclaw_secure_stack.resources import OPENCLAW_ROUTES

SHIPPED = load_route_entries(OPENCLAW_ROUTES)
TABLE = table_from_entries(SHIPPED)


def _request(example: str) -> tuple[str, str, bool]:
    """`METHOD /path` or `WEBSOCKET /path` as (method, path, websocket)."""
    kind, _, path = example.partition(" ")
    if kind == "WEBSOCKET":
        return "GET", path, True
    return kind, path, False


@pytest.mark.parametrize(
    ("route_id", "example"),
    [(entry.id, example) for entry in SHIPPED for example in entry.examples.offered],
)
def test_offered_examples_match_their_own_route(route_id: str, example: str) -> None:
    method, path, websocket = _request(example)
    route = TABLE.match(method, path, websocket=websocket)
    assert route is not None and route.id == route_id


@pytest.mark.parametrize(
    "example", [example for entry in SHIPPED for example in entry.examples.refused]
)
def test_refused_examples_match_no_route(example: str) -> None:
    method, path, websocket = _request(example)
    assert TABLE.match(method, path, websocket=websocket) is None


@pytest.mark.parametrize(
    ("method", "path", "websocket"),
    [
        ("POST", "/tools/invoke", False),
        ("POST", "/hooks/agent", False),
        ("POST", "/v1/embeddings", False),
        ("GET", "/api/artifacts/download/x", False),
        ("GET", "/j/ABC123", False),
        ("GET", "/oauth/mcp/callback", False),
        ("GET", "/sessions//history", False),
        ("GET", "/sessions/x/history", True),
        ("GET", "/desktop/observe", True),
        ("GET", "/", True),
    ],
)
def test_openclaw_routes_no_client_needs_are_refused(
    method: str, path: str, websocket: bool
) -> None:
    route = TABLE.match(method, path, websocket=websocket)
    if (method, path, websocket) == ("GET", "/", True):
        assert route is not None and route.name == "gateway-websocket"
    else:
        assert route is None


async def test_stage_refuses_with_403_and_names_the_offered_methods() -> None:
    flow = make_flow("/v1/chat/completions", method="GET")
    await Routes(TABLE)(flow)
    assert flow.response is not None and flow.response.status == 403
    body = b"".join([chunk async for chunk in flow.response.body])
    error = json.loads(body)["error"]
    assert error["code"] == "route_refused"
    assert "offered there: POST" in error["message"]


async def test_stage_passes_an_offered_route_and_notes_it() -> None:
    flow = make_flow("/v1/chat/completions", method="POST")
    await Routes(TABLE)(flow)
    assert flow.response is None
    assert flow.notes["route"] == "OSS-ROUTE-001"


def _table_file(tmp_path: Path, routes: object) -> Path:
    path = tmp_path / "routes.json"
    path.write_text(json.dumps({"routes": routes}))
    return path


def _entry(**changes: object) -> dict[str, object]:
    entry: dict[str, object] = {
        "id": "OSS-ROUTE-100",
        "name": "x",
        "methods": ["GET"],
        "paths": ["/a/{b}/**"],
        "rationale": "r",
        "examples": {"offered": ["GET /a/b/c"], "refused": ["GET /a/b"]},
    }
    entry.update(changes)
    return entry


def test_pattern_syntax(tmp_path: Path) -> None:
    table: RouteTable = load_route_table(_table_file(tmp_path, [_entry()]))
    assert table.match("GET", "/a/b/c", websocket=False) is not None
    assert table.match("GET", "/a/b/c/d", websocket=False) is not None
    assert table.match("GET", "/a/b", websocket=False) is None  # /** needs a segment
    assert table.match("GET", "/a//c", websocket=False) is None  # {b} is never empty
    assert table.match("HEAD", "/a/b/c", websocket=False) is None
    assert table.match("GET", "/a/b/c", websocket=True) is None


@pytest.mark.parametrize(
    ("routes", "message"),
    [
        ([_entry(methods=["get"])], "unknown methods"),
        ([_entry(paths=["a"])], "must start with '/'"),
        ([_entry(paths=["/a/**/b"])], "neither a literal"),
        ([_entry(paths=["/a*"])], "neither a literal"),
        ([_entry(), _entry()], "route ids used twice: OSS-ROUTE-100"),
        ([_entry(id="ROUTE-1")], "id"),
        ([_entry(examples={"offered": []})], "examples"),
        ([], "routes"),
    ],
)
def test_bad_tables_are_refused_with_the_file_named(
    tmp_path: Path, routes: object, message: str
) -> None:
    path = _table_file(tmp_path, routes)
    with pytest.raises(RouteTableError) as caught:
        load_route_table(path)
    assert str(path) in str(caught.value)
    assert message in str(caught.value)


def test_unreadable_or_broken_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(RouteTableError, match="cannot read"):
        load_route_table(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{\n  "routes": [\n')
    with pytest.raises(RouteTableError, match=r"broken\.json:3: not valid JSON"):
        load_route_table(broken)
