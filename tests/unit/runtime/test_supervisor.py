"""Supervising a child: ready wait, restart with backoff, clean stop with no leftovers."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from openclaw_secure_stack.runtime.supervisor import (
    ChildSpec,
    ChildStartError,
    RestartPolicy,
    Supervisor,
    descendants,
    is_running,
)

# A child that serves HTTP 200 once ready, after starting a grandchild in a session of its own
# (as OpenClaw's spawn broker does), and optionally ignores SIGTERM.
CHILD = """
import http.server, os, signal, subprocess, sys
port, ignore_term, grandchild_file = int(sys.argv[1]), sys.argv[2] == "1", sys.argv[3]
if ignore_term:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
grandchild = subprocess.Popen(["sleep", "600"], start_new_session=True)
open(grandchild_file, "w").write(str(grandchild.pid))
print("serving", flush=True)
http.server.HTTPServer(("127.0.0.1", port), http.server.SimpleHTTPRequestHandler).serve_forever()
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def spec(tmp_path: Path, *, ignore_term: bool = False, argv: list[str] | None = None) -> ChildSpec:
    port = free_port()
    return ChildSpec(
        name="child",
        argv=argv
        or [
            sys.executable,
            "-c",
            CHILD,
            str(port),
            "1" if ignore_term else "0",
            str(tmp_path / "grandchild.pid"),
        ],
        env=dict(os.environ),
        cwd=tmp_path,
        ready_url=f"http://127.0.0.1:{port}/",
        log_path=tmp_path / "child.log",
        ready_timeout=30,
        stop_timeout=1,
    )


def grandchild(tmp_path: Path) -> int:
    return int((tmp_path / "grandchild.pid").read_text())


def test_backoff_doubles_up_to_the_maximum() -> None:
    """1, 2, 4, 8 ... seconds, capped."""
    policy = RestartPolicy(initial_delay=1, max_delay=5)
    assert [policy.delay(n) for n in (1, 2, 3, 4, 9)] == [1, 2, 4, 5, 5]


def test_a_zombie_is_not_running(tmp_path: Path) -> None:
    """An exited process nobody reaped (state Z) counts as gone; a missing pid too."""
    (tmp_path / "7").mkdir()
    (tmp_path / "7" / "stat").write_text("7 (x) Z 1 0 0")
    assert not is_running(7, proc=tmp_path)
    assert not is_running(8, proc=tmp_path)


def test_descendants_walks_the_whole_tree(tmp_path: Path) -> None:
    """Children of children are found through /proc's parent ids."""
    for pid, ppid in ((10, 1), (11, 10), (12, 11), (13, 1)):
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "stat").write_text(f"{pid} (a b) S {ppid} 0 0")
    assert sorted(descendants(10, proc=tmp_path)) == [11, 12]


async def test_start_waits_until_ready_and_stop_leaves_nothing(tmp_path: Path) -> None:
    """After start the URL answers; after stop the child and its detached grandchild are gone."""
    supervisor = Supervisor(spec(tmp_path))
    await supervisor.start()
    pid = supervisor.pid
    assert pid is not None and is_running(pid) and is_running(grandchild(tmp_path))
    await supervisor.stop()
    assert not is_running(pid)
    assert not is_running(grandchild(tmp_path))


async def test_a_child_ignoring_sigterm_is_killed(tmp_path: Path) -> None:
    """stop_timeout after SIGTERM the child gets SIGKILL."""
    messages: list[str] = []
    supervisor = Supervisor(spec(tmp_path, ignore_term=True), report=messages.append)
    await supervisor.start()
    pid = supervisor.pid
    assert pid is not None
    await supervisor.stop()
    assert not is_running(pid)
    assert any("killing" in message for message in messages)


async def test_a_child_that_exits_while_starting_reports_its_log(tmp_path: Path) -> None:
    """The error carries the exit code and the end of the child's output."""
    failing = spec(tmp_path, argv=[sys.executable, "-c", "print('bad config: port'); exit(3)"])
    with pytest.raises(ChildStartError, match=r"(?s)exited with code 3.*bad config: port"):
        await Supervisor(failing).start()


async def test_a_child_that_dies_is_restarted_and_its_orphans_killed(tmp_path: Path) -> None:
    """After a crash the old grandchild is killed, a new child is started, on_restart runs."""
    restarted = asyncio.Event()
    supervisor = Supervisor(
        spec(tmp_path),
        policy=RestartPolicy(initial_delay=0.05),
        on_restart=restarted.set,
    )
    await supervisor.start()
    first_pid, first_grandchild = supervisor.pid, grandchild(tmp_path)
    assert first_pid is not None
    watching = asyncio.ensure_future(supervisor.watch())
    deadline = time.monotonic() + 10
    while first_grandchild not in supervisor.family:  # watch() records it before the crash
        assert time.monotonic() < deadline, "watch() never recorded the grandchild"
        await asyncio.sleep(0.02)
    os.kill(first_pid, 9)
    await asyncio.wait_for(restarted.wait(), 30)
    try:
        assert supervisor.pid not in (None, first_pid)
        assert supervisor.restarts == 1
        assert not is_running(first_grandchild)
    finally:
        await supervisor.stop()
        await asyncio.wait_for(watching, 10)


# A wrapper that ignores SIGTERM and does not pass it on (as bwrap), around a server that
# records a graceful stop.
WRAPPED = """
import http.server, signal, sys
def stop(*_):
    open(sys.argv[2], "w").write("stopped gracefully")
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
handler = http.server.SimpleHTTPRequestHandler
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), handler).serve_forever()
"""


@pytest.mark.parametrize(("signal_descendants", "graceful"), [(True, True), (False, False)])
async def test_a_wrapper_child_has_what_it_runs_stopped_gracefully(
    tmp_path: Path, signal_descendants: bool, graceful: bool
) -> None:
    """With signal_descendants, SIGTERM reaches the wrapped server; without, it is killed."""
    port = free_port()
    record = tmp_path / "stopped"
    wrapper = f"trap \"\" TERM; {sys.executable} -c '{WRAPPED}' {port} {record}"
    base = spec(tmp_path, argv=["sh", "-c", wrapper])
    messages: list[str] = []
    supervisor = Supervisor(
        replace(base, ready_url=f"http://127.0.0.1:{port}/", signal_descendants=signal_descendants),
        report=messages.append,
    )
    await supervisor.start()
    pid = supervisor.pid
    assert pid is not None
    await supervisor.stop()
    assert not is_running(pid)
    assert record.exists() is graceful
    assert any("killing" in message for message in messages) is not graceful
