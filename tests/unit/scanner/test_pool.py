"""Scanning on worker processes gives exactly the report of scanning in this process."""

from __future__ import annotations

from pathlib import Path

from openclaw_secure_stack import resources
from openclaw_secure_stack.scanner import Limits, ScannerSpec, ScanPool, discover
from openclaw_secure_stack.scanner.pool import batches

SKILLS = Path(__file__).parents[2] / "security" / "scanner" / "skills"


def test_pool_reports_equal_in_process_reports() -> None:
    """Every fixture skill: same findings, verdict, score, bytes and digest with two workers."""
    spec = ScannerSpec(
        resources.SCANNER_RULES,
        resources.PROMPT_RULES,
        resources.INDIRECT_RULES,
        Limits(),
        frozenset(),
    )
    scanner = spec.build()
    pool = ScanPool(spec, 2)
    try:
        for kind in ("malicious", "benign"):
            with discover(SKILLS / kind) as units:
                for unit in units:
                    assert scanner.scan_unit(unit, pool) == scanner.scan_unit(unit)
    finally:
        pool.close()


def test_batches_hold_every_job_once_largest_first(tmp_path: Path) -> None:
    """Batching loses and repeats nothing, and a large file starts a batch of its own."""
    jobs = []
    for index, size in enumerate((10, 3 << 20, 500, 2 << 20)):
        path = tmp_path / f"f{index}"
        path.write_bytes(b"x" * size)
        jobs.append((path, path.name))
    grouped = batches(jobs)
    assert sorted(job for batch in grouped for job in batch) == sorted(jobs)
    assert grouped[0] == [(tmp_path / "f1", "f1")]
