"""What the model had read when it proposed each tool call.

For every tool call the model proposes, the gateway records the tool results that were in the
request it answered: which tool produced each, under which call id, and what the indirect rules
found in it. The governance engine (issue 20) asks `ProvenanceStore.lookup(call_id)` before it
decides a call, e.g. "untrusted content was read, so sending data out needs approval". Call ids
are normalised (OpenClaw drops underscores from them on the way back to the model), so an id
looked up as OpenClaw reports it finds the record made under the provider's spelling.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

from openclaw_secure_stack.model_gateway.tool_results import normalise_call_id


@dataclass(frozen=True)
class ReadResult:
    """One tool result the model read: the tool, its call id, the verdict and rules that fired."""

    tool: str
    call_id: str
    decision: str
    rules: tuple[str, ...] = ()


@dataclass(frozen=True)
class Provenance:
    """A proposed tool call and everything the model had read when it proposed it."""

    call_id: str
    tool: str
    arguments_sha256: str
    request_id: str
    model: str
    read: tuple[ReadResult, ...] = ()

    @property
    def untrusted(self) -> bool:
        """Whether any tool result in the model's context had a finding (or was withheld)."""
        return any(result.decision != "pass" for result in self.read)


class ProvenanceStore(Protocol):
    """The interface the governance engine calls in-process."""

    def record(self, provenance: Provenance) -> None: ...

    def lookup(self, call_id: str) -> Provenance | None:
        """The record for `call_id` (any underscore spelling), or None if unknown or evicted."""
        ...


class MemoryProvenance:
    """Bounded, thread-safe, in-memory store: the oldest records go first past `entries`."""

    def __init__(self, entries: int) -> None:
        self._entries = entries
        self._records: OrderedDict[str, Provenance] = OrderedDict()
        self._lock = threading.Lock()

    def record(self, provenance: Provenance) -> None:
        key = normalise_call_id(provenance.call_id)
        with self._lock:
            self._records[key] = provenance
            self._records.move_to_end(key)
            while len(self._records) > self._entries:
                self._records.popitem(last=False)

    def lookup(self, call_id: str) -> Provenance | None:
        with self._lock:
            return self._records.get(normalise_call_id(call_id))

    def __len__(self) -> int:
        return len(self._records)
