"""Audit log throughput: events/s for 1 and 4 writer processes sharing one chain, and verify speed.

Run: uv run python bench/audit_log.py [--events N]
Each process appends its share of N events to one log (64 MiB rotation, as the default); the
figure is total events / wall time from a common start barrier to the last writer's finish.
"""

import argparse
import multiprocessing
import multiprocessing.synchronize
import tempfile
import time
from pathlib import Path

from openclaw_secure_stack.audit.log import AuditLog, chain_paths
from openclaw_secure_stack.audit.sink import AuditEvent
from openclaw_secure_stack.audit.testing import TEST_KEY
from openclaw_secure_stack.audit.verify import verify_chain

ROTATE_BYTES = 64 * 1024 * 1024
EVENT = AuditEvent(
    "proxy.request",
    "allow",
    "alice",
    "3f2a9c1e5b7d4a60",
    {"method": "POST", "path": "/v1/chat/completions", "status": 200, "client": "127.0.0.1"},
)


def writer(path: Path, count: int, barrier: multiprocessing.synchronize.Barrier) -> None:
    log = AuditLog(path, TEST_KEY, ROTATE_BYTES)
    log.check()  # open and read the head before the clock starts
    barrier.wait()
    for _ in range(count):
        log.write(EVENT)


def run(processes: int, events: int, directory: Path) -> float:
    path = directory / f"audit-{processes}.jsonl"
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes + 1)
    workers = [
        context.Process(target=writer, args=(path, events // processes, barrier))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    barrier.wait()
    start = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - start
    report = verify_chain(chain_paths(path), TEST_KEY)
    assert report.intact and report.records == events // processes * processes
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=40000)
    events = parser.parse_args().events
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        for processes in (1, 4):
            elapsed = run(processes, events, directory)
            print(f"{processes} writer process(es): {events / elapsed:,.0f} events/s")
        path = directory / "audit-4.jsonl"
        start = time.perf_counter()
        verify_chain(chain_paths(path), TEST_KEY)
        print(f"verify: {events / (time.perf_counter() - start):,.0f} records/s")


if __name__ == "__main__":
    main()
