"""Scans the tool results of a chat request with the indirect rules and rewrites them in place.

OpenClaw resends the whole history on every model call, so each text's verdict is cached by its
SHA-256 (a bounded LRU): a tool result is scanned once, however often it is resent. Misses are
scanned in a worker thread when together they exceed `thread_threshold` characters, so a large
result does not stall the event loop (the proxy's sanitize stage measures the same pattern). A
text that cannot be scanned (too large, an engine error) is withheld, never forwarded raw.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import OrderedDict
from dataclasses import dataclass

from openclaw_secure_stack.detect import Detector, Verdict
from openclaw_secure_stack.model_gateway.tool_results import (
    ToolText,
    rewrite,
    tool_texts,
    withheld_notice,
)

log = logging.getLogger(__name__)

WITHHELD = "withheld"


@dataclass(frozen=True)
class ToolResultReport:
    """What one tool-result text was and what became of it; audit-safe (a hash, no content)."""

    call_id: str
    tool: str
    message: int
    sha256: str
    decision: str
    rules: tuple[str, ...] = ()

    def to_record(self) -> dict[str, object]:
        return {
            "call_id": self.call_id,
            "tool": self.tool,
            "message": self.message,
            "sha256": self.sha256,
            "decision": self.decision,
            "rules": list(self.rules),
        }


class VerdictCache:
    """Verdicts by content hash, least recently used first out."""

    def __init__(self, entries: int) -> None:
        self._entries = entries
        self._verdicts: OrderedDict[str, Verdict] = OrderedDict()

    def get(self, digest: str) -> Verdict | None:
        verdict = self._verdicts.get(digest)
        if verdict is not None:
            self._verdicts.move_to_end(digest)
        return verdict

    def put(self, digest: str, verdict: Verdict) -> None:
        self._verdicts[digest] = verdict
        self._verdicts.move_to_end(digest)
        while len(self._verdicts) > self._entries:
            self._verdicts.popitem(last=False)

    def __len__(self) -> int:
        return len(self._verdicts)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class ToolResultScanner:
    def __init__(self, detector: Detector, *, cache_entries: int, thread_threshold: int) -> None:
        self._detector = detector
        self._thread_threshold = thread_threshold
        self.cache = VerdictCache(cache_entries)
        self._actions = {rule.id: rule.action for rule in detector.rules("indirect")}

    async def clean(self, messages: list[object]) -> list[ToolResultReport]:
        """Rewrite every tool result in `messages` by its verdict; one report per text.
        Raises GatewayError (400) for a message it cannot read."""
        texts = tool_texts(messages)
        digests = [_digest(piece.text) for piece in texts]
        verdicts: dict[str, Verdict | None] = {}
        misses: dict[str, str] = {}
        for piece, digest in zip(texts, digests, strict=True):
            cached = self.cache.get(digest)
            if cached is not None:
                verdicts[digest] = cached
            else:
                misses[digest] = piece.text
        if misses:
            if sum(len(text) for text in misses.values()) > self._thread_threshold:
                scanned = await asyncio.to_thread(self._scan, misses)
            else:
                scanned = self._scan(misses)
            for digest, verdict in scanned.items():
                verdicts[digest] = verdict
                if verdict is not None:
                    self.cache.put(digest, verdict)
        return [
            self._apply(piece, digest, verdicts[digest])
            for piece, digest in zip(texts, digests, strict=True)
        ]

    def _scan(self, texts: dict[str, str]) -> dict[str, Verdict | None]:
        """Verdict per digest; None where the text could not be scanned."""
        verdicts: dict[str, Verdict | None] = {}
        for digest, text in texts.items():
            try:
                verdicts[digest] = self._detector.detect(text, "indirect", "tool_result")
            except Exception:
                log.exception("a tool result could not be scanned; it is withheld")
                verdicts[digest] = None
        return verdicts

    def _apply(self, piece: ToolText, digest: str, verdict: Verdict | None) -> ToolResultReport:
        if verdict is None:
            piece.put(withheld_notice(piece.tool))
            return ToolResultReport(piece.call_id, piece.tool, piece.message, digest, WITHHELD)
        if verdict.decision != "pass":
            piece.put(rewrite(piece.text, piece.tool, verdict, self._actions))
        return ToolResultReport(
            piece.call_id, piece.tool, piece.message, digest, verdict.decision, verdict.rule_ids
        )
