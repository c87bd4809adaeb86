"""Ingress benchmark: direct to the upstream vs through the proxy vs through Caddy, in one run.

Starts nginx (the JSON upstream), an SSE upstream, Caddy `reverse_proxy` and the real proxy
(`openclaw-secure-stack serve` with client tokens, gateway token and a keyed audit log), then for
each target measures with wrk: saturated throughput and p50/p99 at a fixed connection count, and
p50/p99 at a fixed request rate; then SSE time to first event and gaps between events.
See bench/README.md for how to read the output.

    uv run python bench/ingress.py            # full run, about 5 minutes
    uv run python bench/ingress.py --quick    # smoke run, about 30 seconds
    uv run python bench/ingress.py --against main   # plus the proxy at a git revision
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from rich.console import Console
from rich.table import Table

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"

CLIENT_NAME = "bench"
CLIENT_TOKEN = "bench-client-token-" + "c" * 32
GATEWAY_TOKEN = "bench-gateway-token-" + "g" * 32
AUDIT_KEY = "bench-audit-key-" + "k" * 32
REQUEST_PATH = "/v1/chat/completions"
REQUEST_BODY = '{"model":"openclaw","messages":[{"role":"user","content":"ping"}]}'
JSON_REPLY = (
    '{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"bench",'
    '"choices":[{"index":0,"message":{"role":"assistant","content":"pong"},'
    '"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}'
)

# Debian package that provides each tool; nothing is installed at run time.
TOOLS = {"wrk": "wrk", "nginx": "nginx-light", "caddy": "caddy"}
VERSION_FLAGS = {"wrk": "-v", "nginx": "-v", "caddy": "version"}

WRK_REQUEST = """
wrk.method = "POST"
wrk.body = '%(body)s'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(token)s"
"""
# wrk reports through this Lua `done` hook so the numbers are read exactly, not scraped.
WRK_DONE = """
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"errors":%d,'
    .. '"p50_us":%d,"p99_us":%d,"max_us":%d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""
# Appended for fixed-rate runs: each connection waits an exponential gap (mean conns/rate) before
# each request, so the arrivals of all connections together are Poisson at about `rate`.
WRK_PACING = """
math.randomseed(os.time())
local mean_gap_ms = %(mean_gap_ms)f
function delay()
  return -mean_gap_ms * math.log(1 - math.random())
end
"""


@dataclass(frozen=True)
class Load:
    """How long and how hard wrk loads each target (`measure_http`)."""

    warmup_s: int
    saturated_s: int
    rate_s: int
    reps: int
    saturated_conns: int
    rate: int
    rate_conns: int


@dataclass(frozen=True)
class Plan(Load):
    sse_streams: int
    sse_chunks: int
    sse_delay_ms: float
    proxy_workers: tuple[int, ...]


FULL = Plan(
    warmup_s=3,
    saturated_s=8,
    rate_s=10,
    reps=3,
    saturated_conns=32,
    rate=500,
    rate_conns=16,
    sse_streams=10,
    sse_chunks=20,
    sse_delay_ms=25.0,
    proxy_workers=(1, 2),
)
QUICK = Plan(
    warmup_s=1,
    saturated_s=2,
    rate_s=3,
    reps=1,
    saturated_conns=32,
    rate=500,
    rate_conns=16,
    sse_streams=3,
    sse_chunks=10,
    sse_delay_ms=20.0,
    proxy_workers=(1,),
)


@dataclass(frozen=True)
class Target:
    name: str
    json_url: str
    sse_url: str
    pgid: int  # the process group whose CPU time is charged to this target


@dataclass(frozen=True)
class WrkRun:
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    server_cpu_s: float = 0.0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_us_per_request(self) -> float:
        return self.server_cpu_s / self.requests * 1e6


@dataclass
class HttpResult:
    warmup: list[WrkRun] = field(default_factory=list)
    saturated: list[WrkRun] = field(default_factory=list)
    paced: list[WrkRun] = field(default_factory=list)


@dataclass(frozen=True)
class SseResult:
    streams: int
    ttfb_ms: float
    gap_median_ms: float
    gap_p99_ms: float
    gap_max_ms: float
    total_ms: float
    unbuffered: bool


class BenchError(Exception):
    """The benchmark cannot produce honest numbers; the message says why."""


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --- tools and processes --------------------------------------------------------------------


def find_tools(names: tuple[str, ...] = tuple(TOOLS)) -> dict[str, str]:
    search_path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    found = {name: shutil.which(name, path=search_path) for name in names}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        packages = " ".join(TOOLS[name] for name in missing)
        raise BenchError(
            f"missing tools: {', '.join(missing)}. Install them with:\n"
            f"  apt-get update && apt-get install -y {packages}"
        )
    return {name: path for name, path in found.items() if path is not None}


def tool_versions(tools: dict[str, str]) -> dict[str, str]:
    def first_line(argv: list[str]) -> str:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        return (done.stdout + done.stderr).strip().splitlines()[0]

    versions = {name: first_line([path, VERSION_FLAGS[name]]) for name, path in tools.items()}
    versions["wrk"] = versions["wrk"].split("Copyright")[0].strip()
    return versions | {"python": platform.python_version()}


def source_revision() -> str:
    """The commit the measured proxy was built from, marked when src/ has uncommitted edits."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(REPO_DIR), *args], capture_output=True, text=True)
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + ("+uncommitted" if git("status", "--porcelain", "src") else "")


def extract_revision(revision: str, directory: Path) -> tuple[str, Path]:
    """`src/` of a git revision under `directory`; returns its short name and that `src`."""
    commit = subprocess.run(
        ["git", "-C", str(REPO_DIR), "rev-parse", "--short", revision],
        capture_output=True,
        text=True,
        check=False,
    )
    if commit.returncode != 0:
        raise BenchError(f"--against {revision}: not a git revision")
    archive = subprocess.run(
        ["git", "-C", str(REPO_DIR), "archive", revision, "src"], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(directory)], input=archive.stdout, check=True)
    return commit.stdout.strip(), directory / "src"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Processes:
    """Every process the benchmark starts, each in its own session, all stopped at the end."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.started: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.ready_urls: dict[str, str] = {}

    def start(
        self,
        name: str,
        argv: list[str],
        *,
        ready_url: str,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        """Start `argv`; `wait_ready` later waits for `ready_url` to answer 200."""
        output = (self.workdir / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            argv, stdout=output, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True
        )
        self.started.append((name, proc))
        self.ready_urls[name] = ready_url

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        """Wait until every started process answers; all start in parallel, so this is quick."""
        deadline = time.monotonic() + timeout_s
        for name, proc in self.started:
            url = self.ready_urls[name]
            while not _answers(url):
                if proc.poll() is not None:
                    raise BenchError(
                        f"{name} exited with {proc.returncode}:\n{self.log_tail(name)}"
                    )
                if time.monotonic() > deadline:
                    raise BenchError(f"{name} not ready at {url}:\n{self.log_tail(name)}")
                time.sleep(0.05)

    def pid(self, name: str) -> int:
        return next(proc.pid for started, proc in self.started if started == name)

    def log_tail(self, name: str, lines: int = 15) -> str:
        text = (self.workdir / f"{name}.log").read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def crashed(self) -> str:
        """The output of every started process that has exited, for an error message."""
        return "".join(
            f"\n{name} exited with {proc.returncode}:\n{self.log_tail(name)}"
            for name, proc in self.started
            if proc.poll() is not None
        )

    def stop_all(self) -> None:
        for _, proc in reversed(self.started):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for _, proc in self.started:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _answers(url: str) -> bool:
    with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:
        return bool(response.status == 200)
    return False


def check_reply(target: Target) -> None:
    """One authorized request must get the upstream's JSON back, or the numbers mean nothing."""
    request = urllib.request.Request(
        target.json_url,
        data=REQUEST_BODY.encode(),
        headers={"Authorization": f"Bearer {CLIENT_TOKEN}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            body = response.read().decode()
    except urllib.error.HTTPError as exc:
        raise BenchError(f"{target.name}: {exc.code} {exc.read()[:300]!r}") from None
    if json.loads(body) != json.loads(JSON_REPLY):
        raise BenchError(f"{target.name}: unexpected reply {body[:300]!r}")


def start_nginx(processes: Processes, nginx: str, port: int) -> None:
    root = processes.workdir / "nginx"
    root.mkdir()
    conf = root / "nginx.conf"
    conf.write_text(
        f"""worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {root}/body;
  proxy_temp_path {root}/proxy;
  fastcgi_temp_path {root}/fastcgi;
  uwsgi_temp_path {root}/uwsgi;
  scgi_temp_path {root}/scgi;
  keepalive_requests 10000000;
  server {{
    listen 127.0.0.1:{port};
    location / {{ default_type application/json; return 200 '{JSON_REPLY}'; }}
  }}
}}
"""
    )
    argv = [nginx, "-p", str(root), "-e", "stderr", "-c", str(conf)]
    processes.start("nginx", argv, ready_url=f"http://127.0.0.1:{port}/")


def start_sse_upstream(processes: Processes, port: int, plan: Plan) -> None:
    argv = [sys.executable, str(BENCH_DIR / "sse_upstream.py"), "--port", str(port)]
    argv += ["--chunks", str(plan.sse_chunks), "--delay-ms", str(plan.sse_delay_ms)]
    processes.start("sse-upstream", argv, ready_url=f"http://127.0.0.1:{port}/health")


def start_caddy(
    processes: Processes, caddy: str, port: int, sse_port: int, upstreams: tuple[int, int]
) -> None:
    root = processes.workdir / "caddy"
    root.mkdir()
    caddyfile = root / "Caddyfile"
    caddyfile.write_text(
        f"""{{
  admin off
  auto_https off
}}
http://127.0.0.1:{port} {{
  reverse_proxy 127.0.0.1:{upstreams[0]}
}}
http://127.0.0.1:{sse_port} {{
  reverse_proxy 127.0.0.1:{upstreams[1]} {{
    flush_interval -1
  }}
}}
"""
    )
    env = {
        **os.environ,
        "HOME": str(root),
        "XDG_DATA_HOME": str(root),
        "XDG_CONFIG_HOME": str(root),
    }
    argv = [caddy, "run", "--config", str(caddyfile), "--adapter", "caddyfile"]
    processes.start("caddy", argv, ready_url=f"http://127.0.0.1:{port}/", env=env)


def start_floor(
    processes: Processes, port: int, upstream_port: int, token: str = CLIENT_TOKEN
) -> None:
    """bare_forwarder.py under granian with the proxy's server options: the stack's floor."""
    granian = Path(sys.executable).with_name("granian")
    argv = [str(granian), "--interface", "asgi", "--loop", "uvloop", "--http", "1"]
    argv += ["--workers", "1", "--no-ws", "--no-access-log", "--log-level", "warning"]
    argv += ["--host", "127.0.0.1", "--port", str(port), "bare_forwarder:app"]
    env = {
        **os.environ,
        "BENCH_UPSTREAM": f"http://127.0.0.1:{upstream_port}",
        "BENCH_TOKEN": token,
    }
    ready_url = f"http://127.0.0.1:{port}/health"
    processes.start("floor", argv, ready_url=ready_url, env=env, cwd=BENCH_DIR)


def start_proxy(
    processes: Processes,
    name: str,
    port: int,
    upstream_port: int,
    workers: int,
    source: Path | None = None,
) -> Path:
    """`openclaw-secure-stack serve` with real settings; returns its audit directory.
    `source`: a `src` directory whose package is imported instead of this checkout's."""
    root = processes.workdir / name
    root.mkdir()
    audit_dir = root / "audit"
    env = {
        **os.environ,
        "PROXY_HOST": "127.0.0.1",
        "PROXY_PORT": str(port),
        "PROXY_WORKERS": str(workers),
        "UPSTREAM_URL": f"http://127.0.0.1:{upstream_port}",
        "OPENCLAW_GATEWAY_TOKEN": GATEWAY_TOKEN,
        "CLIENT_TOKENS": f"{CLIENT_NAME}:{CLIENT_TOKEN}",
        "AUDIT_LOG_PATH": str(audit_dir / "audit.jsonl"),
        "AUDIT_KEY": AUDIT_KEY,
        "DATA_DIR": str(root / "data"),
    }
    if source is not None:
        env["PYTHONPATH"] = str(source)  # ahead of the editable install of this checkout
    cli = Path(sys.executable).with_name("openclaw-secure-stack")
    # The temporary cwd keeps the repository's .env out of the measured configuration.
    ready_url = f"http://127.0.0.1:{port}/health"
    processes.start(name, [str(cli), "serve"], ready_url=ready_url, env=env, cwd=root)
    return audit_dir


def count_lines(directory: Path) -> int:
    total = 0
    for path in directory.rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                total += sum(
                    chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b"")
                )
    return total


# --- measurements ---------------------------------------------------------------------------


def run_wrk(wrk: str, script: Path, url: str, conns: int, seconds: int) -> WrkRun:
    argv = [wrk, "-t1", f"-c{conns}", f"-d{seconds}s", "--timeout", "10s", "-s", str(script), url]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("BENCH_RESULT ")]
    if done.returncode != 0 or not lines:
        raise BenchError(f"wrk failed on {url}:\n{done.stdout}\n{done.stderr}")
    raw = json.loads(lines[-1].removeprefix("BENCH_RESULT "))
    return WrkRun(
        requests=raw["requests"],
        seconds=raw["duration_us"] / 1e6,
        errors=raw["errors"],
        p50_ms=raw["p50_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
    )


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU time of every live process in a process group (from /proc)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            # Fields after the parenthesised command: state ppid pgrp ... utime(12) stime(13).
            fields = stat.read_text().rpartition(")")[2].split()
            if int(fields[2]) == pgid:
                ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def charged_run(wrk: str, script: Path, target: Target, conns: int, seconds: int) -> WrkRun:
    """A wrk run plus the CPU time the target's own processes spent serving it."""
    before = group_cpu_seconds(target.pgid)
    run = run_wrk(wrk, script, target.json_url, conns, seconds)
    return replace(run, server_cpu_s=group_cpu_seconds(target.pgid) - before)


def write_wrk_scripts(workdir: Path, plan: Load, request: str | None = None) -> tuple[Path, Path]:
    """wrk's saturated and paced scripts; `request` is the Lua that sets up the request."""
    if request is None:
        request = WRK_REQUEST % {"body": REQUEST_BODY, "token": CLIENT_TOKEN}
    common = request + WRK_DONE
    saturated = workdir / "saturated.lua"
    saturated.write_text(common)
    paced = workdir / "paced.lua"
    paced.write_text(common + WRK_PACING % {"mean_gap_ms": plan.rate_conns * 1000 / plan.rate})
    return saturated, paced


def measure_http(
    wrk: str, scripts: tuple[Path, Path], targets: list[Target], plan: Load
) -> dict[str, HttpResult]:
    """Warm up every target, then interleave the repetitions so drift hits all targets alike."""
    saturated, paced = scripts
    results = {target.name: HttpResult() for target in targets}
    for target in targets:
        log(f"warm-up {target.name}")
        run = charged_run(wrk, saturated, target, plan.saturated_conns, plan.warmup_s)
        results[target.name].warmup.append(run)
    for rep in range(1, plan.reps + 1):
        for target in targets:
            log(f"saturated -c{plan.saturated_conns} {target.name} ({rep}/{plan.reps})")
            run = charged_run(wrk, saturated, target, plan.saturated_conns, plan.saturated_s)
            results[target.name].saturated.append(run)
    for rep in range(1, plan.reps + 1):
        for target in targets:
            log(f"fixed rate {plan.rate} req/s {target.name} ({rep}/{plan.reps})")
            run = charged_run(wrk, paced, target, plan.rate_conns, plan.rate_s)
            results[target.name].paced.append(run)
    for name, result in results.items():
        failed = sum(run.errors for run in result.saturated + result.paced)
        if failed:
            raise BenchError(f"{name}: {failed} requests failed (non-2xx, timeout or socket error)")
    return results


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def one_stream(session: aiohttp.ClientSession, url: str) -> list[float]:
    """Seconds from sending the request to each `data:` event."""
    start = time.perf_counter()
    arrivals: list[float] = []
    body = json.loads(REQUEST_BODY) | {"stream": True}
    headers = {"Authorization": f"Bearer {CLIENT_TOKEN}"}
    async with session.post(url, json=body, headers=headers) as response:
        if response.status != 200:
            raise BenchError(f"SSE {url}: {response.status} {(await response.read())[:300]!r}")
        async for line in response.content:
            if line.startswith(b"data:"):
                arrivals.append(time.perf_counter() - start)
    return arrivals


async def measure_sse(target: Target, plan: Plan) -> SseResult:
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await one_stream(session, target.sse_url)  # warm-up: connection set-up
        streams = [await one_stream(session, target.sse_url) for _ in range(plan.sse_streams)]
    for arrivals in streams:
        if len(arrivals) != plan.sse_chunks + 1:
            raise BenchError(
                f"SSE {target.name}: {len(arrivals)} events, expected {plan.sse_chunks + 1}"
            )
    gaps = [(b - a) * 1000 for arrivals in streams for a, b in itertools.pairwise(arrivals)]
    ttfb = statistics.median(arrivals[0] for arrivals in streams) * 1000
    gap_median = statistics.median(gaps)
    return SseResult(
        streams=len(streams),
        ttfb_ms=ttfb,
        gap_median_ms=gap_median,
        gap_p99_ms=percentile(gaps, 0.99),
        gap_max_ms=max(gaps),
        total_ms=statistics.median(arrivals[-1] for arrivals in streams) * 1000,
        # A buffering hop delivers the first event only with the last, and then all at once.
        unbuffered=ttfb < plan.sse_delay_ms
        and abs(gap_median - plan.sse_delay_ms) < plan.sse_delay_ms / 4,
    )


# --- report ---------------------------------------------------------------------------------


def summarize(runs: list[WrkRun]) -> dict[str, float]:
    return {
        "rps": statistics.median(run.rps for run in runs),
        "p50_ms": statistics.median(run.p50_ms for run in runs),
        "p99_ms": statistics.median(run.p99_ms for run in runs),
        "max_ms": max(run.max_ms for run in runs),
        "cpu_us_per_request": statistics.median(run.cpu_us_per_request for run in runs),
    }


def compare(http: dict[str, dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    direct, caddy, floor = http["direct"], http["caddy"], http["floor"]
    comparisons = {}
    for name, result in http.items():
        if not name.startswith("proxy"):
            continue
        comparisons[name] = {
            "throughput_vs_direct": result["saturated"]["rps"] / direct["saturated"]["rps"],
            "throughput_vs_caddy": result["saturated"]["rps"] / caddy["saturated"]["rps"],
            "throughput_vs_floor": result["saturated"]["rps"] / floor["saturated"]["rps"],
            "added_p50_ms_at_rate": result["paced"]["p50_ms"] - direct["paced"]["p50_ms"],
            "added_p99_ms_at_rate": result["paced"]["p99_ms"] - direct["paced"]["p99_ms"],
        }
    return comparisons


def print_report(console: Console, report: dict[str, Any]) -> None:
    plan = report["plan"]
    tools, machine = report["tools"], report["machine"]
    console.print(
        f"proxy source {report['proxy_source']}; {machine['cpus']} CPUs, load average "
        f"{machine['load_before']:.1f} before and {machine['load_after']:.1f} after the run; "
        f"{tools['wrk']}; {tools['nginx']}; caddy {tools['caddy']}; python {tools['python']}",
        markup=False,
    )
    saturated = Table(
        title=f"Saturated: wrk -t1 -c{plan['saturated_conns']}, "
        f"median of {plan['reps']} x {plan['saturated_s']} s"
    )
    paced = Table(
        title=f"Fixed rate: {plan['rate']} req/s Poisson, wrk -c{plan['rate_conns']}, "
        f"median of {plan['reps']} x {plan['rate_s']} s"
    )
    for table, first in ((saturated, "req/s"), (paced, "achieved req/s")):
        table.add_column("target")
        for column in (first, "p50 ms", "p99 ms", "max ms", "CPU us/req"):
            table.add_column(column, justify="right")
    for name, result in report["http"].items():
        for table, key in ((saturated, "saturated"), (paced, "paced")):
            row = result[key]
            table.add_row(
                name,
                f"{row['rps']:,.0f}",
                f"{row['p50_ms']:.3f}",
                f"{row['p99_ms']:.3f}",
                f"{row['max_ms']:.1f}",
                f"{row['cpu_us_per_request']:.0f}",
            )
    console.print(saturated, paced)

    ratios = Table(
        title=f"Proxy vs references (goal: >= 0.33x direct; "
        f"at {plan['rate']} req/s added p50 <= 1 ms, p99 <= 3 ms)"
    )
    columns = ("proxy", "x direct", "x Caddy", "x floor", "added p50 ms", "added p99 ms", "goal")
    for column in columns:
        ratios.add_column(column, justify="right")
    for name, row in report["comparisons"].items():
        met = (
            row["throughput_vs_direct"] >= 0.33
            and row["added_p50_ms_at_rate"] <= 1.0
            and row["added_p99_ms_at_rate"] <= 3.0
        )
        ratios.add_row(
            name,
            f"{row['throughput_vs_direct']:.2f}",
            f"{row['throughput_vs_caddy']:.2f}",
            f"{row['throughput_vs_floor']:.2f}",
            f"{row['added_p50_ms_at_rate']:+.3f}",
            f"{row['added_p99_ms_at_rate']:+.3f}",
            "met" if met else "NOT met",
        )
    if report["comparisons"]:
        console.print(ratios)

    sse = Table(
        title=f"SSE: {plan['sse_chunks']} events {plan['sse_delay_ms']:g} ms apart, first at once; "
        f"{plan['sse_streams']} streams"
    )
    for column in (
        "target",
        "first ms",
        "gap p50 ms",
        "gap p99 ms",
        "gap max ms",
        "last ms",
        "unbuffered",
    ):
        sse.add_column(column, justify="right")
    for name, row in report["sse"].items():
        sse.add_row(
            name,
            f"{row['ttfb_ms']:.2f}",
            f"{row['gap_median_ms']:.2f}",
            f"{row['gap_p99_ms']:.2f}",
            f"{row['gap_max_ms']:.2f}",
            f"{row['total_ms']:.1f}",
            "yes" if row["unbuffered"] else "NO",
        )
    console.print(sse)
    for name, audit in report["audit"].items():
        console.print(
            f"{name}: {audit['records']:,} audit records, "
            f"{audit['requests_answered']:,} requests answered: "
            + ("every answer audited" if audit["complete"] else "AUDIT RECORDS MISSING")
        )


def requests_answered(result: HttpResult | None, plan: Plan) -> int:
    """Requests a proxy answered: wrk's completed ones and the check, or the SSE streams."""
    if result is None:
        return plan.sse_streams + 1
    return 1 + sum(run.requests for run in result.warmup + result.saturated + result.paced)


# --- orchestration --------------------------------------------------------------------------


def run(plan: Plan, with_proxy: bool, against: str | None = None) -> dict[str, Any]:
    tools = find_tools()
    started_at = datetime.now(UTC)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="oss-bench-") as tmp:
        workdir = Path(tmp)
        processes = Processes(workdir)
        try:
            ports = {name: free_port() for name in ("nginx", "sse", "caddy", "caddy-sse")}
            start_nginx(processes, tools["nginx"], ports["nginx"])
            start_sse_upstream(processes, ports["sse"], plan)
            start_caddy(
                processes,
                tools["caddy"],
                ports["caddy"],
                ports["caddy-sse"],
                (ports["nginx"], ports["sse"]),
            )
            http_targets = [
                Target(
                    "direct",
                    f"http://127.0.0.1:{ports['nginx']}{REQUEST_PATH}",
                    f"http://127.0.0.1:{ports['sse']}{REQUEST_PATH}",
                    processes.pid("nginx"),
                ),
                Target(
                    "caddy",
                    f"http://127.0.0.1:{ports['caddy']}{REQUEST_PATH}",
                    f"http://127.0.0.1:{ports['caddy-sse']}{REQUEST_PATH}",
                    processes.pid("caddy"),
                ),
            ]
            sse_targets = list(http_targets)
            floor_port = free_port()
            start_floor(processes, floor_port, ports["nginx"])
            floor_url = f"http://127.0.0.1:{floor_port}{REQUEST_PATH}"
            http_targets.append(Target("floor", floor_url, floor_url, processes.pid("floor")))
            audit_dirs: dict[str, Path] = {}
            if with_proxy:
                for workers in plan.proxy_workers:
                    name, port = f"proxy-w{workers}", free_port()
                    audit_dirs[name] = start_proxy(processes, name, port, ports["nginx"], workers)
                    url = f"http://127.0.0.1:{port}{REQUEST_PATH}"
                    http_targets.append(Target(name, url, url, processes.pid(name)))
                if against is not None:
                    (workdir / "against").mkdir()
                    commit, source = extract_revision(against, workdir / "against")
                    name, port = f"proxy-w1@{commit}", free_port()
                    audit_dirs[name] = start_proxy(
                        processes, name, port, ports["nginx"], 1, source=source
                    )
                    url = f"http://127.0.0.1:{port}{REQUEST_PATH}"
                    http_targets.append(Target(name, url, url, processes.pid(name)))
                sse_port = free_port()
                audit_dirs["proxy-sse"] = start_proxy(
                    processes, "proxy-sse", sse_port, ports["sse"], 1
                )
                sse_url = f"http://127.0.0.1:{sse_port}{REQUEST_PATH}"
                sse_targets.append(Target("proxy-w1", sse_url, sse_url, processes.pid("proxy-sse")))
            processes.wait_ready()
            for target in http_targets:
                check_reply(target)
            scripts = write_wrk_scripts(workdir, plan)
            http = measure_http(tools["wrk"], scripts, http_targets, plan)
            sse = {}
            for target in sse_targets:
                log(f"SSE {target.name}")
                sse[target.name] = asdict(asyncio.run(measure_sse(target, plan)))
        finally:
            processes.stop_all()
        audit = {}
        for name, directory in audit_dirs.items():
            records, answered = count_lines(directory), requests_answered(http.get(name), plan)
            # More records than answers is expected: requests still in flight when a run ends.
            audit[name] = {
                "records": records,
                "requests_answered": answered,
                "complete": records >= answered,
            }
    summary = {
        name: {"saturated": summarize(r.saturated), "paced": summarize(r.paced)}
        for name, r in http.items()
    }
    return {
        "started_at": started_at.isoformat(timespec="seconds"),
        "command": " ".join(["python", *sys.argv]),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            # Other work on the machine moves every figure; the 1-minute load says how much.
            "load_before": load_before,
            "load_after": os.getloadavg()[0],
        },
        "tools": tool_versions(tools),
        "proxy_source": source_revision(),
        "plan": asdict(plan),
        "http": summary,
        "comparisons": compare(summary) if with_proxy else {},
        "sse": sse,
        "audit": audit,
        "runs": {name: asdict(result) for name, result in http.items()},
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description="Measure the ingress proxy against direct and Caddy (see bench/README.md)."
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: short runs, one repetition"
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    parser.add_argument(
        "--no-proxy", action="store_true", help="measure only direct and Caddy (checks the harness)"
    )
    parser.add_argument(
        "--against",
        metavar="REV",
        help="also measure the proxy (1 worker) at this git revision, interleaved with the rest",
    )
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    try:
        report = run(plan, with_proxy=not args.no_proxy, against=args.against)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = report["started_at"].replace(":", "").replace("+0000", "Z")
    path = RESULTS_DIR / f"{stamp}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(Console(width=max(Console().width, 100)), report)
    log(f"results written to {path.relative_to(REPO_DIR)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
