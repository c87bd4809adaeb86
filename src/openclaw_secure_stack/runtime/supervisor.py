"""Keep one child process running: start it, wait until it is ready, restart it when it dies.

Children run in their own session, so a Ctrl-C in the terminal reaches only `up`, which then stops
them in order. Stopping sends SIGTERM, waits, then SIGKILLs; any descendants still alive afterwards
(OpenClaw starts helper processes in sessions of their own) are killed too, so nothing is left
behind. On Linux each child also gets SIGTERM if `up` itself dies without cleaning up.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

PROBE_INTERVAL = 0.25
FAMILY_REFRESH_SECONDS = 2.0
KILL_WAIT_SECONDS = 5.0
LOG_TAIL_LINES = 25


class ChildStartError(Exception):
    """A child did not become ready; the message includes the end of its log."""


@dataclass(frozen=True)
class ChildSpec:
    """How to run one supervised process and how to tell that it is ready."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    cwd: Path
    ready_url: str
    log_path: Path
    ready_timeout: float = 60.0
    stop_timeout: float = 15.0
    # The child is a wrapper that does not pass signals on (bwrap): stop what it runs instead.
    signal_descendants: bool = False


@dataclass(frozen=True)
class RestartPolicy:
    """Exponential backoff between restarts; a child that stayed up `stable_after` resets it."""

    initial_delay: float = 1.0
    max_delay: float = 30.0
    stable_after: float = 60.0
    max_failed_starts: int = 5

    def delay(self, consecutive_failures: int) -> float:
        exponent = max(0, consecutive_failures - 1)
        return float(min(self.max_delay, self.initial_delay * 2**exponent))


@dataclass
class _Tracked:
    process: asyncio.subprocess.Process
    started_at: float = field(default_factory=time.monotonic)
    # Descendants seen lately: after a crash they are orphans that /proc no longer links to us.
    family: list[int] = field(default_factory=list)


def _parent_death_signal() -> Callable[[], None] | None:
    """A pre-exec hook asking Linux to SIGTERM the child when its parent dies."""
    if not sys.platform.startswith("linux"):
        return None
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return None
    prctl = ctypes.CDLL(libc_name, use_errno=True).prctl
    pr_set_pdeathsig = 1

    def hook() -> None:
        prctl(pr_set_pdeathsig, signal.SIGTERM)

    return hook


def descendants(pid: int, proc: Path = Path("/proc")) -> list[int]:
    """Every process whose parent chain leads to `pid` (Linux /proc; empty elsewhere)."""
    children: dict[int, list[int]] = {}
    for entry in proc.glob("[0-9]*/stat"):
        try:
            stat = entry.read_text()
        except OSError:
            continue
        # The command name may contain spaces and parentheses: the fields follow the last ")".
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1:
            children.setdefault(int(fields[1]), []).append(int(entry.parent.name))
    found: list[int] = []
    pending = [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


class Supervisor:
    """One supervised child. `start()` once, then `watch()` until `stop()`."""

    def __init__(
        self,
        spec: ChildSpec,
        *,
        policy: RestartPolicy | None = None,
        report: Callable[[str], None] = lambda _message: None,
        on_restart: Callable[[], object] = lambda: None,
    ) -> None:
        self.spec = spec
        self._policy = policy or RestartPolicy()
        self._report = report
        self._on_restart = on_restart
        self._tracked: _Tracked | None = None
        self._stopping = False
        self.restarts = 0

    @property
    def pid(self) -> int | None:
        return self._tracked.process.pid if self._tracked else None

    @property
    def family(self) -> list[int]:
        """The child's descendants as `watch()` last recorded them (killed after a crash)."""
        return list(self._tracked.family) if self._tracked else []

    async def start(self) -> None:
        """Spawn the child and wait for its ready URL; raise `ChildStartError` if it never is."""
        self.spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.spec.log_path.open("ab") as log:
            process = await asyncio.create_subprocess_exec(
                *self.spec.argv,
                cwd=self.spec.cwd,
                env=dict(self.spec.env),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_parent_death_signal(),
            )
        self._tracked = _Tracked(process)
        try:
            await self._wait_ready(process)
        except BaseException:
            await self._terminate()
            raise

    async def _wait_ready(self, process: asyncio.subprocess.Process) -> None:
        deadline = time.monotonic() + self.spec.ready_timeout
        timeout = aiohttp.ClientTimeout(total=2)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                if process.returncode is not None:
                    raise ChildStartError(
                        f"{self.spec.name} exited with code {process.returncode} while starting; "
                        f"its log ({self.spec.log_path}) ends with:\n{log_tail(self.spec.log_path)}"
                    )
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with session.get(self.spec.ready_url) as response:
                        if response.status == 200:
                            return
                if time.monotonic() > deadline:
                    raise ChildStartError(
                        f"{self.spec.name} was not ready at {self.spec.ready_url} after "
                        f"{self.spec.ready_timeout:.0f}s; its log ({self.spec.log_path}) ends "
                        f"with:\n{log_tail(self.spec.log_path)}"
                    )
                await asyncio.sleep(PROBE_INTERVAL)

    async def watch(self) -> None:
        """Restart the child with backoff whenever it dies, until `stop()`.

        Returns normally after `stop()`; raises `ChildStartError` when the child cannot be started
        `max_failed_starts` times in a row.
        """
        failures = 0
        while not self._stopping:
            tracked = self._tracked
            if tracked is None:
                return
            code = await self._wait_tracking_family(tracked)
            await self._kill_leftovers(tracked.process.pid, tracked.family)
            if self._stopping:
                return
            if time.monotonic() - tracked.started_at >= self._policy.stable_after:
                failures = 0
            failures += 1
            delay = self._policy.delay(failures)
            self._report(f"{self.spec.name} exited with code {code}; restarting in {delay:.0f}s")
            await asyncio.sleep(delay)
            while not self._stopping:
                try:
                    await self.start()
                except ChildStartError as exc:
                    if failures >= self._policy.max_failed_starts:
                        raise
                    failures += 1
                    delay = self._policy.delay(failures)
                    self._report(f"{exc}\nretrying in {delay:.0f}s")
                    await asyncio.sleep(delay)
                    continue
                self.restarts += 1
                self._report(f"{self.spec.name} is back (pid {self.pid})")
                self._on_restart()
                break

    async def _wait_tracking_family(self, tracked: _Tracked) -> int:
        waiting = asyncio.ensure_future(tracked.process.wait())
        while True:
            tracked.family = descendants(tracked.process.pid) or tracked.family
            done, _ = await asyncio.wait({waiting}, timeout=FAMILY_REFRESH_SECONDS)
            if done:
                return waiting.result()

    async def stop(self) -> None:
        """Stop the child and everything it started; safe to call more than once."""
        self._stopping = True
        await self._terminate()

    async def _terminate(self) -> None:
        tracked = self._tracked
        if tracked is None:
            return
        process = tracked.process
        family = [*tracked.family, *descendants(process.pid)]
        if process.returncode is None:
            targets = descendants(process.pid) if self.spec.signal_descendants else [process.pid]
            for target in targets:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(target, signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), self.spec.stop_timeout)
            except TimeoutError:
                self._report(
                    f"{self.spec.name} did not stop within {self.spec.stop_timeout:.0f}s; killing"
                )
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        await self._kill_leftovers(process.pid, family)

    async def _kill_leftovers(self, pid: int, known: list[int]) -> None:
        """SIGKILL descendants that outlived their parent (given, or found under `pid`)."""
        leftovers = {*known, *descendants(pid)}
        for leftover in leftovers:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(leftover, signal.SIGKILL)
        # SIGKILL is delivered asynchronously: return only once they are really gone.
        deadline = time.monotonic() + KILL_WAIT_SECONDS
        while any(is_running(leftover) for leftover in leftovers):
            if time.monotonic() > deadline:
                self._report(f"processes still running after SIGKILL: {sorted(leftovers)}")
                return
            await asyncio.sleep(0.02)


def is_running(pid: int, proc: Path = Path("/proc")) -> bool:
    """Whether `pid` exists and is not a zombie (an exited child nobody has reaped yet)."""
    try:
        stat = (proc / str(pid) / "stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"
