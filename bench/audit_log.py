"""Audit log throughput: events/s for 1 and 4 writer processes sharing one chain, and verify speed.

Run: uv run python bench/audit_log.py [--events N] [--repeat R]
Each process appends its share of N events to one log (64 MiB rotation, as the default). It
prints events / wall time from a common start barrier to the last writer's finish (best of R
runs, since a shared machine only ever slows a run down) and the writers' CPU time per event
(user + system, summed over the processes), which load on the machine disturbs much less.
Then, as the proxy's audit stage would: 32 coroutines on one event loop each write their share,
either inline (what the proxy does) or through `asyncio.to_thread`, and it prints the CPU time
per event of both (best of R), to show what a hop to a worker thread costs.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import multiprocessing.queues
import multiprocessing.synchronize
import resource
import tempfile
import time
from pathlib import Path

from openclaw_secure_stack.audit.log import AuditLog, chain_paths
from openclaw_secure_stack.audit.sink import AuditEvent
from openclaw_secure_stack.audit.testing import TEST_KEY
from openclaw_secure_stack.audit.verify import verify_chain

ROTATE_BYTES = 64 * 1024 * 1024
LOOP_TASKS = 32
EVENT = AuditEvent(
    "proxy.request",
    "allow",
    "alice",
    "3f2a9c1e5b7d4a60",
    {"method": "POST", "path": "/v1/chat/completions", "status": 200, "client": "127.0.0.1"},
)


def writer(
    path: Path,
    count: int,
    barrier: multiprocessing.synchronize.Barrier,
    cpu_seconds: multiprocessing.queues.Queue[float],
) -> None:
    log = AuditLog(path, TEST_KEY, ROTATE_BYTES)
    log.check()  # open and read the head before the clock starts
    barrier.wait()
    start = _cpu()
    for _ in range(count):
        log.write(EVENT)
    cpu_seconds.put(_cpu() - start)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def fresh(path: Path) -> Path:
    """`path` with no log and no anchor left from the previous run (a writer would chain on
    from the anchor). Spelled out rather than imported, so `PYTHONPATH=<older src>` runs too."""
    path.unlink(missing_ok=True)
    path.with_name(path.name + ".anchor").unlink(missing_ok=True)
    return path


def run(processes: int, events: int, directory: Path) -> tuple[float, float]:
    """Wall seconds and writer CPU seconds for one run."""
    path = fresh(directory / f"audit-{processes}.jsonl")
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes + 1)
    cpu_seconds: multiprocessing.queues.Queue[float] = context.Queue()
    workers = [
        context.Process(target=writer, args=(path, events // processes, barrier, cpu_seconds))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    barrier.wait()
    start = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - start
    cpu = sum(cpu_seconds.get() for _ in workers)
    report = verify_chain(chain_paths(path), TEST_KEY)
    assert report.intact and report.records == events // processes * processes
    return elapsed, cpu


def loop_run(events: int, directory: Path, *, threaded: bool) -> float:
    """Writer CPU seconds for `events` written by 32 coroutines on one event loop."""
    path = fresh(directory / "audit-loop.jsonl")
    log = AuditLog(path, TEST_KEY, ROTATE_BYTES)
    log.check()

    async def writes(count: int) -> None:
        for _ in range(count):
            if threaded:
                await asyncio.to_thread(log.write, EVENT)
            else:
                log.write(EVENT)
                await asyncio.sleep(0)  # let the others run, as a request would between stages

    async def all_writes() -> None:
        await asyncio.gather(*(writes(events // LOOP_TASKS) for _ in range(LOOP_TASKS)))

    start = _cpu()
    asyncio.run(all_writes())
    cpu = _cpu() - start
    log.close()
    assert verify_chain(chain_paths(path), TEST_KEY).records == events // LOOP_TASKS * LOOP_TASKS
    return cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=40000)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    events = options.events
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        for processes in (1, 4):
            runs = [run(processes, events, directory) for _ in range(options.repeat)]
            elapsed, cpu = min(runs)
            print(
                f"{processes} writer process(es): {events / elapsed:,.0f} events/s "
                f"(best of {options.repeat}), {cpu / events * 1e6:.0f} us CPU per event"
            )
        path = directory / "audit-4.jsonl"
        start = time.perf_counter()
        verify_chain(chain_paths(path), TEST_KEY)
        print(f"verify: {events / (time.perf_counter() - start):,.0f} records/s")
        for threaded, how in ((False, "inline"), (True, "asyncio.to_thread")):
            cpu = min(loop_run(events, directory, threaded=threaded) for _ in range(options.repeat))
            print(
                f"event loop, {LOOP_TASKS} coroutines, {how}: {cpu / events * 1e6:.0f} us CPU "
                f"per event (best of {options.repeat})"
            )


if __name__ == "__main__":
    main()
