"""Routes stage: only the routes a client of the stack needs reach OpenClaw; everything else is 403.

OpenClaw 2026.9.6 serves far more than the chat API on its one port (tool invocation, hooks that
start agent runs, boards, artifacts, pairing, OAuth callbacks, plugin-registered paths, and more
sockets than the gateway's), and a route the proxy does not know is a route none of its stages
looked at. So the proxy decides by allowlist: the route table (`data/openclaw-routes.json`,
`PROXY_ROUTES`) names each offered route with an id, its methods and path patterns, whether it is
a WebSocket, a rationale and examples; a request that matches none is refused with 403
`route_refused` before anything else looks at it. The table also records every route handler of
the pinned OpenClaw's router and what the proxy does with it, and an end-to-end test compares that
with the installed OpenClaw, so a new OpenClaw route or alias fails a test instead of passing.

Paths are matched as `target.py` has already validated them (one canonical spelling, no dot
segments, OpenClaw's rewritten `/__openclaw__/cap/` prefix refused), so what matches here is what
OpenClaw routes. Pattern syntax: literal segments; `{name}` is exactly one non-empty segment; a
final `/**` is one or more further segments.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from openclaw_secure_stack.proxy.flow import Flow
from openclaw_secure_stack.proxy.target import ALLOWED_METHODS

MAX_TABLE_BYTES = 1024 * 1024
_ANY_SEGMENT = "{}"
_REST = "**"


class RouteTableError(Exception):
    """A route table the proxy cannot use; the message names the file and the fix."""


class _Examples(BaseModel):
    model_config = ConfigDict(extra="forbid")
    offered: list[str] = Field(min_length=1)
    refused: list[str] = Field(min_length=1)


class RouteEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^OSS-ROUTE-[0-9]{3}$")
    name: str = Field(min_length=1)
    methods: list[str] = Field(min_length=1)
    paths: list[str] = Field(min_length=1)
    websocket: bool = False
    rationale: str = Field(min_length=1)
    examples: _Examples

    @field_validator("methods")
    @classmethod
    def _known_methods(cls, methods: list[str]) -> list[str]:
        unknown = [method for method in methods if method not in ALLOWED_METHODS]
        if unknown:
            raise ValueError(f"unknown methods {unknown}; use some of {list(ALLOWED_METHODS)}")
        return methods

    @field_validator("paths")
    @classmethod
    def _patterns(cls, paths: list[str]) -> list[str]:
        for path in paths:
            _segments(path)
        return paths


class _TableFile(BaseModel):
    model_config = ConfigDict(extra="allow")
    routes: list[RouteEntry] = Field(min_length=1)


def _segments(pattern: str) -> tuple[str, ...]:
    """The pattern's segments with `{name}` as `_ANY_SEGMENT`; ValueError names what is wrong."""
    if not pattern.startswith("/"):
        raise ValueError(f"path pattern {pattern!r} must start with '/'")
    if pattern == "/":
        return ("",)
    parts = pattern[1:].split("/")
    segments: list[str] = []
    for index, part in enumerate(parts):
        if part == _REST and index == len(parts) - 1:
            segments.append(_REST)
        elif part.startswith("{") and part.endswith("}") and len(part) > 2:
            segments.append(_ANY_SEGMENT)
        elif part and not any(char in part for char in "{}*"):
            segments.append(part)
        else:
            raise ValueError(
                f"path pattern {pattern!r}: segment {part!r} is neither a literal, "
                "a {name} nor a final /**"
            )
    return tuple(segments)


def _matches(segments: tuple[str, ...], path: str) -> bool:
    parts = ("",) if path == "/" else tuple(path[1:].split("/"))
    if segments[-1] == _REST:
        fixed = segments[:-1]
        if len(parts) <= len(fixed):
            return False
        parts = parts[: len(fixed)]
        segments = fixed
    if len(parts) != len(segments):
        return False
    return all(
        part == segment or (segment == _ANY_SEGMENT and part != "")
        for segment, part in zip(segments, parts, strict=True)
    )


@dataclass(frozen=True)
class Route:
    id: str
    name: str
    methods: frozenset[str]
    patterns: tuple[tuple[str, ...], ...]
    websocket: bool

    def serves(self, path: str) -> bool:
        return any(_matches(segments, path) for segments in self.patterns)


@dataclass(frozen=True)
class RouteTable:
    routes: tuple[Route, ...]

    def match(self, method: str, path: str, *, websocket: bool) -> Route | None:
        """The offered route for this request, or None."""
        for route in self.routes:
            if route.websocket == websocket and method in route.methods and route.serves(path):
                return route
        return None

    def methods_at(self, path: str, *, websocket: bool) -> list[str]:
        """Methods offered at `path`, for the refusal message."""
        offered = {
            method
            for route in self.routes
            if route.websocket == websocket and route.serves(path)
            for method in route.methods
        }
        return sorted(offered)


def table_from_entries(entries: Iterable[RouteEntry]) -> RouteTable:
    return RouteTable(
        tuple(
            Route(
                id=entry.id,
                name=entry.name,
                methods=frozenset(entry.methods),
                patterns=tuple(_segments(path) for path in entry.paths),
                websocket=entry.websocket,
            )
            for entry in entries
        )
    )


def load_route_entries(path: Path) -> list[RouteEntry]:
    """The routes of the table file at `path`, validated; RouteTableError names file and fix."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_TABLE_BYTES + 1)
    except OSError as exc:
        raise RouteTableError(f"{path}: cannot read the route table ({exc.strerror})") from exc
    if len(raw) > MAX_TABLE_BYTES:
        raise RouteTableError(f"{path}: larger than {MAX_TABLE_BYTES} bytes")
    try:
        document = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        line = getattr(exc, "lineno", None)
        where = f"{path}:{line}" if line else str(path)
        raise RouteTableError(f"{where}: not valid JSON ({exc})") from exc
    try:
        table = _TableFile.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        )
        raise RouteTableError(
            f"{path}: invalid route table ({problems}); see the shipped "
            "openclaw-routes.json for the format"
        ) from exc
    ids = [entry.id for entry in table.routes]
    duplicates = sorted({route_id for route_id in ids if ids.count(route_id) > 1})
    if duplicates:
        raise RouteTableError(f"{path}: route ids used twice: {', '.join(duplicates)}")
    return table.routes


def load_route_table(path: Path) -> RouteTable:
    return table_from_entries(load_route_entries(path))


class Routes:
    """Refuse (403 `route_refused`) every request that no offered route serves."""

    name: ClassVar[str] = "routes"
    sees_answered: ClassVar[bool] = False

    def __init__(self, table: RouteTable) -> None:
        self._table = table

    async def __call__(self, flow: Flow) -> None:
        request = flow.request
        route = self._table.match(request.method, request.path, websocket=request.websocket)
        if route is not None:
            flow.notes["route"] = route.id
            return
        kind = "WebSocket" if request.websocket else request.method
        offered = self._table.methods_at(request.path, websocket=request.websocket)
        hint = f" (offered there: {', '.join(offered)})" if offered else ""
        flow.deny(
            403,
            "route_refused",
            f"{kind} {request.path} is not offered through the proxy{hint}",
        )
