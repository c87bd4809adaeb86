"""The narrow interface every part of the stack uses to record an audit event."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class AuditEvent:
    """What happened, before the log gives it a place in the chain (seq, ts, prev, mac).

    `details` must never hold a secret: hash or redact before building the event.
    """

    event: str
    outcome: str
    actor: str | None = None
    request_id: str | None = None
    details: Mapping[str, object] = field(default_factory=dict)


class AuditSink(Protocol):
    def write(self, event: AuditEvent) -> None:
        """Record the event durably before returning; raise if it cannot be recorded."""


class CapturingSink:
    """Keeps events in memory so tests can assert that a record was written (and synced:
    `synced` holds how many events there were at each `sync`)."""

    def __init__(self) -> None:
        self.events: list[AuditEvent] = []
        self.synced: list[int] = []

    def write(self, event: AuditEvent) -> None:
        self.events.append(event)

    def sync(self) -> None:
        self.synced.append(len(self.events))

    def named(self, name: str) -> list[AuditEvent]:
        return [e for e in self.events if e.event == name]
