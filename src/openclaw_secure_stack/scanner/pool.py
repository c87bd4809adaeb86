"""Scanning a unit's files on every core: each worker process builds its own scanner from the
same rules files (compiled RE2 sets and tree-sitter parsers do not cross processes), and gets
the files in batches of about equal bytes, largest first."""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from openclaw_secure_stack.detect import load_detector
from openclaw_secure_stack.scanner.engine import Limits, Scanned, Scanner
from openclaw_secure_stack.scanner.findings import UnitContext
from openclaw_secure_stack.scanner.rules import load_rulebook

BATCH_BYTES = 1 << 20


@dataclass(frozen=True)
class ScannerSpec:
    """Everything a worker needs to build the same scanner."""

    rules: Path
    prompt_rules: Path | None
    indirect_rules: Path | None
    limits: Limits
    allowed_domains: frozenset[str]

    def build(self) -> Scanner:
        detector = (
            load_detector(self.prompt_rules, self.indirect_rules)
            if self.prompt_rules is not None and self.indirect_rules is not None
            else None
        )
        return Scanner(load_rulebook(self.rules), detector, self.limits, self.allowed_domains)


_worker: Scanner | None = None


def _start(spec: ScannerSpec) -> None:
    global _worker  # one scanner per worker process
    _worker = spec.build()


def _scan_batch(
    batch: list[tuple[Path, str]], domains: frozenset[str], docs: bool
) -> list[Scanned]:
    assert _worker is not None
    context = UnitContext(_worker.book, domains, _worker.allowed_domains)
    return [_worker.scan_file(path, relative, context, docs) for path, relative in batch]


def batches(jobs: Sequence[tuple[Path, str]]) -> list[list[tuple[Path, str]]]:
    """Jobs grouped into batches of about BATCH_BYTES (a large file alone), largest first."""
    sized = sorted(jobs, key=lambda job: _size(job[0]), reverse=True)
    grouped: list[list[tuple[Path, str]]] = []
    current: list[tuple[Path, str]] = []
    weight = 0
    for job in sized:
        current.append(job)
        weight += _size(job[0])
        if weight >= BATCH_BYTES:
            grouped.append(current)
            current, weight = [], 0
    if current:
        grouped.append(current)
    return grouped


def _size(path: Path) -> int:
    try:
        return path.lstat().st_size
    except OSError:
        return 0


class ScanPool:
    def __init__(self, spec: ScannerSpec, workers: int | None = None) -> None:
        self._executor = ProcessPoolExecutor(
            max_workers=workers or os.cpu_count() or 1, initializer=_start, initargs=(spec,)
        )

    def scan(
        self, jobs: Sequence[tuple[Path, str]], domains: frozenset[str], docs: bool
    ) -> list[Scanned]:
        futures = [
            self._executor.submit(_scan_batch, batch, domains, docs) for batch in batches(jobs)
        ]
        return [scanned for future in futures for scanned in future.result()]

    def close(self) -> None:
        self._executor.shutdown(cancel_futures=True)
