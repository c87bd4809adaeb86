"""The engine's vocabulary: a tool call, the context it is decided in, and the decision.

All plain frozen dataclasses, so `decide` stays a pure function of its inputs. The one value
with behaviour is `call_hash`: the canonical hash an approval is bound to.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import rfc8785

RateScope = Literal["caller", "session"]


class Verdict(enum.Enum):
    ALLOW = "allow"
    REQUIRE_APPROVAL = "require_approval"
    BLOCK = "block"


@dataclass(frozen=True)
class ToolCall:
    """One tool call exactly as OpenClaw is about to run it."""

    tool: str
    params: Mapping[str, Any]


@dataclass(frozen=True)
class Caller:
    """Who started the run: the client token's name, or a channel sender. None means unknown,
    which is never treated as a match for a caller condition that names a value."""

    token: str | None = None
    channel: str | None = None
    sender: str | None = None
    owner: bool | None = None


@dataclass(frozen=True)
class Flow:
    """What the session had read before this call, from the model gateway's provenance."""

    untrusted_content: bool = False
    secret_read: bool = False


class RecentCalls(Protocol):
    """How many calls were decided in a scope since a time (the rate-policy input)."""

    def count(self, scope: RateScope, key: str, since: float) -> int: ...


class NoRecentCalls:
    """A history with nothing in it (first call, or a caller that keeps no history)."""

    def count(self, scope: RateScope, key: str, since: float) -> int:
        return 0


@dataclass(frozen=True)
class Context:
    """Everything besides the call that a decision may depend on.

    `places` names the directories policies refer to as `$name` (`workspace`, `home`, `state`);
    `session` comes from OpenClaw's context, never from a client header.
    """

    session: str
    places: Mapping[str, Path]
    caller: Caller = Caller()
    flow: Flow = Flow()
    now: float = 0.0
    recent: RecentCalls = field(default_factory=NoRecentCalls)

    @property
    def workspace(self) -> Path:
        return self.places["workspace"]

    @property
    def home(self) -> Path:
        return self.places["home"]


@dataclass(frozen=True)
class Decision:
    """The verdict, the reason the model reads, and the policies that made it."""

    verdict: Verdict
    reason: str
    policy_ids: tuple[str, ...]

    @property
    def allowed(self) -> bool:
        return self.verdict is Verdict.ALLOW


class NotCanonical(ValueError):
    """Parameters that have no canonical JSON form (NaN, non-string keys, huge integers...)."""


def canonical_call(call: ToolCall, session: str) -> bytes:
    """The RFC 8785 canonical JSON of tool name, parameters and session."""
    try:
        return rfc8785.dumps({"tool": call.tool, "params": call.params, "session": session})
    except (rfc8785.CanonicalizationError, TypeError, ValueError, RecursionError) as exc:
        raise NotCanonical(f"the tool parameters have no canonical JSON form ({exc})") from None


def call_hash(call: ToolCall, session: str) -> str:
    """SHA-256 of `canonical_call`: what an approval is bound to.

    Key order, whitespace and number spelling do not change it; any change of value does.
    """
    return hashlib.sha256(canonical_call(call, session)).hexdigest()
