"""Model gateway benchmark: what the gateway adds to a real OpenClaw model call, beside LiteLLM.

Every target answers the same request, the one the real OpenClaw sent its model in a tool-using
turn (bench/fixtures/openclaw-chat-request.json: 49 KB system prompt, 12 tools, 4 tool results;
`bench/capture_openclaw_request.py` records it again), with the same streamed reply (text, then a
tool call, usage, `[DONE]`) from nginx serving it canned: a provider that costs next to nothing.

- `direct`: nginx itself, the reply without a hop;
- `floor`: bench/bare_forwarder.py under granian, a bearer check and a pooled forward only;
- `gateway`: `openclaw-secure-stack model-gateway`: key check, tool results scanned (verdicts
  cached after the first call), reply guarded, one audit record per call;
- `gateway@REV` (`--against REV`): the gateway of a git revision, in the same run;
- `litellm` (`--litellm PATH`): LiteLLM's proxy, one worker, no database, a master key.

For each: wrk saturated (req/s, CPU per request), and one call at a time (the added latency:
p50/p99 minus direct's), repetitions interleaved across targets.
See bench/README.md ("Model gateway").

    uv run python -m bench.model_gateway --litellm /tmp/litellm-env   # about 6 minutes
    uv run python -m bench.model_gateway --quick                      # about 1 minute
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.ingress import (
    AUDIT_KEY,
    BENCH_DIR,
    REPO_DIR,
    RESULTS_DIR,
    BenchError,
    HttpResult,
    Load,
    Processes,
    Target,
    extract_revision,
    find_tools,
    free_port,
    log,
    measure_http,
    source_revision,
    start_floor,
    summarize,
    tool_versions,
    write_wrk_scripts,
)
from rich.console import Console
from rich.table import Table

from openclaw_secure_stack.audit.log import chain_paths

FIXTURE = BENCH_DIR / "fixtures" / "openclaw-chat-request.json"
PATH = "/v1/chat/completions"
MODEL = "bench"
# One key for every target: LiteLLM wants its master key to start with `sk-`.
KEY = "sk-bench-gateway-key-" + "c" * 32
PROVIDER_KEY = "sk-bench-provider-key"
REPLY_TEXT = "I will read the upstream first, then the forwarder. "
REPLY_CALL = ("read", {"path": "sse_upstream.py"})
GOAL_ADDED_P50_MS = 2.0
GOAL_X_LITELLM = 10.0
# Lua for wrk: the request body is read from a file, it is too large and too quoted to inline.
WRK_REQUEST = """
local file = assert(io.open("%(body)s", "rb"))
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(token)s"
"""


# Latency is measured one call at a time (one connection, a Poisson gap of mean 1/rate before
# each call), so no target ever queues a call behind another: the figure is what one call costs,
# even for a target far slower than the rate.
FULL = Load(warmup_s=3, saturated_s=8, rate_s=15, reps=3, saturated_conns=16, rate=50, rate_conns=1)
QUICK = Load(warmup_s=1, saturated_s=2, rate_s=4, reps=1, saturated_conns=16, rate=50, rate_conns=1)


def request_body() -> bytes:
    """The captured OpenClaw request, for the bench's model, compact as OpenClaw sends it."""
    document = json.loads(FIXTURE.read_text())
    document["model"] = MODEL
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def reply_events() -> list[dict[str, Any]]:
    """The streamed reply: a role delta, the text word by word, one tool call in pieces, the
    finish reason and usage, as OpenAI streams them."""
    name, arguments = REPLY_CALL
    encoded = json.dumps(arguments, separators=(",", ":"))
    deltas: list[tuple[dict[str, Any], str | None]] = [({"role": "assistant", "content": ""}, None)]
    deltas += [({"content": word + " "}, None) for word in REPLY_TEXT.split()]
    call = {"index": 0, "id": "call_bench_1", "type": "function"}
    deltas.append(({"tool_calls": [{**call, "function": {"name": name, "arguments": ""}}]}, None))
    for piece in (encoded[: len(encoded) // 2], encoded[len(encoded) // 2 :]):
        deltas.append(({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}, None))
    deltas.append(({}, "tool_calls"))
    head = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1700000000}
    events = [
        {**head, "model": MODEL, "choices": [{"index": 0, "delta": d, "finish_reason": f}]}
        for d, f in deltas
    ]
    usage = {"prompt_tokens": 16000, "completion_tokens": 40, "total_tokens": 16040}
    events.append({**head, "model": MODEL, "choices": [], "usage": usage})
    return events


def sse_reply() -> bytes:
    events = [b"data: " + json.dumps(e, separators=(",", ":")).encode() for e in reply_events()]
    return b"\n\n".join([*events, b"data: [DONE]", b""])


def streamed(body: bytes) -> tuple[str, list[tuple[str, Any]]]:
    """The text and the complete tool calls (name, parsed arguments) of an SSE reply."""
    text: list[str] = []
    calls: dict[int, list[str]] = collections.defaultdict(lambda: ["", ""])
    lines = [line for line in body.decode().splitlines() if line.startswith("data: ")]
    if not lines or lines[-1] != "data: [DONE]":
        raise BenchError(f"the reply does not end with [DONE]: {body[-300:]!r}")
    for line in lines[:-1]:
        event = json.loads(line.removeprefix("data: "))
        if "error" in event:
            raise BenchError(f"the reply carries an error: {event['error']}")
        for choice in event.get("choices") or ():
            delta = choice.get("delta") or {}
            text.append(delta.get("content") or "")
            for piece in delta.get("tool_calls") or ():
                function = piece.get("function") or {}
                call = calls[piece.get("index", 0)]
                call[0] += function.get("name") or ""
                call[1] += function.get("arguments") or ""
    return "".join(text), [(name, json.loads(args)) for name, args in calls.values()]


def check_reply(target: Target, body: bytes) -> None:
    """One call must stream back the reply's exact text and tool call, or nothing is measured
    (a target answering an error quickly would otherwise look fast)."""
    request = urllib.request.Request(
        target.json_url,
        data=body,
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            reply = response.read()
    except urllib.error.HTTPError as exc:
        raise BenchError(f"{target.name}: {exc.code} {exc.read()[:300]!r}") from None
    text, calls = streamed(reply)
    if text.split() != REPLY_TEXT.split() or calls != [REPLY_CALL]:
        raise BenchError(f"{target.name}: unexpected reply {text!r} {calls!r}")


# --- processes ------------------------------------------------------------------------------


def nginx_string(value: bytes) -> str:
    """`value` as a single-quoted nginx string (nginx reads \\n, \\' and \\\\ in one)."""
    text = value.decode().replace("\\", "\\\\").replace("'", "\\'")
    return "'" + text.replace("\n", "\\n") + "'"


def start_provider(processes: Processes, nginx: str, port: int) -> None:
    """nginx, 1 worker, answering every POST with the canned SSE reply."""
    root = processes.workdir / "nginx"
    root.mkdir()
    temp = " ".join(f"{kind}_temp_path {root}/{kind};" for kind in ("proxy", "fastcgi", "uwsgi"))
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
  {temp} scgi_temp_path {root}/scgi;
  client_max_body_size 16m;
  client_body_buffer_size 1m;
  keepalive_requests 10000000;
  server {{
    listen 127.0.0.1:{port};
    location / {{ default_type text/event-stream; return 200 {nginx_string(sse_reply())}; }}
  }}
}}
"""
    )
    argv = [nginx, "-p", str(root), "-e", "stderr", "-c", str(conf)]
    processes.start("nginx", argv, ready_url=f"http://127.0.0.1:{port}/")


def start_gateway(
    processes: Processes, name: str, port: int, provider_port: int, source: Path | None = None
) -> Path:
    """`openclaw-secure-stack model-gateway` with real settings; returns its audit log.
    `source`: a `src` directory whose package is imported instead of this checkout's."""
    root = processes.workdir / name
    root.mkdir()
    audit_log = root / "audit" / "audit.jsonl"
    env = {
        **os.environ,
        "MODEL_GATEWAY_KEY": KEY,
        "MODEL_API_KEY": PROVIDER_KEY,
        "AUDIT_KEY": AUDIT_KEY,
        "AUDIT_LOG_PATH": str(audit_log),
        "MODEL_BASE_URL": f"http://127.0.0.1:{provider_port}/v1",
        "MODEL_PROVIDER": "openai",
        "MODEL_NAME": MODEL,
        "MODEL_GATEWAY_PORT": str(port),
    }
    if source is not None:
        env["PYTHONPATH"] = str(source)  # ahead of the editable install of this checkout
    cli = Path(sys.executable).with_name("openclaw-secure-stack")
    # The temporary cwd keeps the repository's .env out of the measured configuration.
    argv = [str(cli), "model-gateway"]
    processes.start(name, argv, ready_url=f"http://127.0.0.1:{port}/health", env=env, cwd=root)
    return audit_log


def litellm_command(path: Path) -> Path:
    """The `litellm` executable of `path`: a virtual environment or the executable itself."""
    command = path / "bin" / "litellm" if path.is_dir() else path
    if not command.is_file():
        raise BenchError(
            f"--litellm {path}: no litellm there. Install it apart from the project:\n"
            "  uv venv /tmp/litellm-env && uv pip install -p /tmp/litellm-env 'litellm[proxy]'"
        )
    return command


def litellm_version(command: Path) -> str:
    python = command.with_name("python")
    done = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or "unknown"


def start_litellm(processes: Processes, command: Path, port: int, provider_port: int) -> None:
    """LiteLLM's proxy, one worker, no database, with a master key: its lightest real setup."""
    root = processes.workdir / "litellm"
    root.mkdir()
    config = root / "config.yaml"
    # JSON is YAML: no YAML writer needed.
    config.write_text(
        json.dumps(
            {
                "model_list": [
                    {
                        "model_name": MODEL,
                        "litellm_params": {
                            "model": f"openai/{MODEL}",
                            "api_base": f"http://127.0.0.1:{provider_port}/v1",
                            "api_key": PROVIDER_KEY,
                        },
                    }
                ],
                "general_settings": {"master_key": KEY},
                "litellm_settings": {"telemetry": False},
            }
        )
    )
    env = {
        **os.environ,
        "HOME": str(root),
        # Its model cost map is otherwise fetched from GitHub at start.
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_LOG": "ERROR",
    }
    argv = [str(command), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--num_workers", "1"]
    ready_url = f"http://127.0.0.1:{port}/health/liveliness"
    processes.start("litellm", argv, ready_url=ready_url, env=env, cwd=root)


# --- report ---------------------------------------------------------------------------------


def audit_outcomes(audit_log: Path) -> dict[str, int]:
    """How many `model_gateway.call` records the gateway wrote, per outcome."""
    outcomes: collections.Counter[str] = collections.Counter()
    for path in chain_paths(audit_log):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            if record["event"] == "model_gateway.call":
                outcomes[record["outcome"]] += 1
    return dict(outcomes)


def answered(result: HttpResult) -> int:
    """Calls a target answered: the check and wrk's completed requests."""
    return 1 + sum(run.requests for run in result.warmup + result.saturated + result.paced)


def compare(http: dict[str, dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    direct = http["direct"]
    litellm = http.get("litellm")
    comparisons = {}
    for name, result in http.items():
        if name == "direct":
            continue
        row = {
            "added_p50_ms": result["paced"]["p50_ms"] - direct["paced"]["p50_ms"],
            "added_p99_ms": result["paced"]["p99_ms"] - direct["paced"]["p99_ms"],
            "throughput_vs_direct": result["saturated"]["rps"] / direct["saturated"]["rps"],
        }
        if litellm is not None:
            row["throughput_vs_litellm"] = result["saturated"]["rps"] / litellm["saturated"]["rps"]
        comparisons[name] = row
    return comparisons


def print_report(console: Console, report: dict[str, Any]) -> None:
    plan, tools, machine = report["plan"], report["tools"], report["machine"]
    console.print(
        f"gateway source {report['gateway_source']}; {machine['cpus']} CPUs, load average "
        f"{machine['load_before']:.1f} before and {machine['load_after']:.1f} after the run; "
        f"{tools['wrk']}; {tools['nginx']}; litellm {tools.get('litellm', '-')}; "
        f"python {tools['python']}; request {report['request_bytes']:,} bytes, "
        f"reply {report['reply_bytes']:,} bytes",
        markup=False,
    )
    saturated = Table(
        title=f"Saturated: wrk -t1 -c{plan['saturated_conns']}, "
        f"median of {plan['reps']} x {plan['saturated_s']} s"
    )
    paced = Table(
        title=f"One call at a time: wrk -c{plan['rate_conns']}, Poisson gaps of mean "
        f"{1000 * plan['rate_conns'] / plan['rate']:g} ms, median of {plan['reps']} x "
        f"{plan['rate_s']} s"
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
        title=f"Against direct and LiteLLM (goal for the gateway: added p50 <= "
        f"{GOAL_ADDED_P50_MS:g} ms, >= {GOAL_X_LITELLM:g}x LiteLLM's req/s)"
    )
    for column in ("target", "added p50 ms", "added p99 ms", "x direct", "x LiteLLM", "goal"):
        ratios.add_column(column, justify="right")
    for name, row in report["comparisons"].items():
        vs_litellm = row.get("throughput_vs_litellm")
        goal = ""
        if name.startswith("gateway"):
            met = row["added_p50_ms"] <= GOAL_ADDED_P50_MS and (
                vs_litellm is None or vs_litellm >= GOAL_X_LITELLM
            )
            goal = ("met" if met else "NOT met") + ("" if vs_litellm else " (p50 only)")
        ratios.add_row(
            name,
            f"{row['added_p50_ms']:+.3f}",
            f"{row['added_p99_ms']:+.3f}",
            f"{row['throughput_vs_direct']:.3f}",
            "-" if vs_litellm is None else f"{vs_litellm:.1f}",
            goal,
        )
    console.print(ratios)
    for name, audit in report["audit"].items():
        console.print(
            f"{name}: {audit['answered']:,} calls answered, audit records by outcome "
            f"{audit['outcomes']}: "
            + ("every call audited as allowed" if audit["complete"] else "AUDIT INCOMPLETE")
        )


# --- orchestration --------------------------------------------------------------------------


def run(plan: Load, litellm: Path | None = None, against: str | None = None) -> dict[str, Any]:
    tools = find_tools(("wrk", "nginx"))
    litellm_bin = None if litellm is None else litellm_command(litellm)
    started_at = datetime.now(UTC)
    load_before = os.getloadavg()[0]
    body = request_body()
    with tempfile.TemporaryDirectory(prefix="oss-bench-gw-") as tmp:
        workdir = Path(tmp)
        processes = Processes(workdir)
        try:
            provider_port = free_port()
            start_provider(processes, tools["nginx"], provider_port)
            targets = [Target("direct", "", "", processes.pid("nginx"))]
            floor_port = free_port()
            start_floor(processes, floor_port, provider_port, token=KEY)
            targets.append(Target("floor", "", "", processes.pid("floor")))
            ports = {"direct": provider_port, "floor": floor_port}
            audit_logs: dict[str, Path] = {}
            gateways = [("gateway", None)]
            if against is not None:
                (workdir / "against").mkdir()
                commit, source = extract_revision(against, workdir / "against")
                gateways.append((f"gateway@{commit}", source))
            for name, source in gateways:
                ports[name] = free_port()
                audit_logs[name] = start_gateway(
                    processes, name, ports[name], provider_port, source
                )
                targets.append(Target(name, "", "", processes.pid(name)))
            if litellm_bin is not None:
                ports["litellm"] = free_port()
                start_litellm(processes, litellm_bin, ports["litellm"], provider_port)
                targets.append(Target("litellm", "", "", processes.pid("litellm")))
            targets = [
                Target(t.name, f"http://127.0.0.1:{ports[t.name]}{PATH}", "", t.pgid)
                for t in targets
            ]
            processes.wait_ready(timeout_s=180)  # LiteLLM takes its time to start
            for target in targets:
                check_reply(target, body)
            (workdir / "request.json").write_bytes(body)
            request = WRK_REQUEST % {"body": workdir / "request.json", "token": KEY}
            scripts = write_wrk_scripts(workdir, plan, request)
            try:
                http = measure_http(tools["wrk"], scripts, targets, plan)
            except BenchError as exc:
                raise BenchError(f"{exc}{processes.crashed()}") from None
        finally:
            processes.stop_all()
        audit = {}
        for name, audit_log in audit_logs.items():
            outcomes = audit_outcomes(audit_log)
            calls = answered(http[name])
            # More records than answers is expected: calls still in flight when wrk stopped.
            audit[name] = {
                "answered": calls,
                "outcomes": outcomes,
                "complete": set(outcomes) == {"allow"} and outcomes["allow"] >= calls,
            }
    summary = {
        name: {"saturated": summarize(r.saturated), "paced": summarize(r.paced)}
        for name, r in http.items()
    }
    versions = tool_versions(tools)
    if litellm_bin is not None:
        versions["litellm"] = litellm_version(litellm_bin)
    return {
        "started_at": started_at.isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench.model_gateway", *sys.argv[1:]]),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_before": load_before,
            "load_after": os.getloadavg()[0],
        },
        "tools": versions,
        "gateway_source": source_revision(),
        "request_bytes": len(body),
        "reply_bytes": len(sse_reply()),
        "plan": asdict(plan),
        "http": summary,
        "comparisons": compare(summary),
        "audit": audit,
        "runs": {name: asdict(result) for name, result in http.items()},
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description="Measure the model gateway against direct, a bare forwarder and LiteLLM "
        "(see bench/README.md)."
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: short, one repetition")
    parser.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    parser.add_argument(
        "--litellm",
        type=Path,
        metavar="PATH",
        help="also measure LiteLLM's proxy from this virtual environment (or executable)",
    )
    parser.add_argument(
        "--against",
        metavar="REV",
        help="also measure the gateway at this git revision, interleaved with the rest",
    )
    args = parser.parse_args()
    try:
        report = run(QUICK if args.quick else FULL, args.litellm, args.against)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = report["started_at"].replace(":", "").replace("+0000", "Z")
    path = RESULTS_DIR / f"model-gateway-{stamp}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(Console(width=max(Console().width, 100)), report)
    log(f"results written to {path.relative_to(REPO_DIR)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
