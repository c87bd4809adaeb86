"""`up`, `status` and `doctor`: run the whole stack, see whether it runs, check what it needs."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from dataclasses import asdict

import typer
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from openclaw_secure_stack.cli.audit import FormatOption, OutputFormat
from openclaw_secure_stack.runtime.credentials import CredentialError
from openclaw_secure_stack.runtime.doctor import Status, answers, run_checks, startup_loaders
from openclaw_secure_stack.runtime.install import InstallError
from openclaw_secure_stack.runtime.node import NodeError
from openclaw_secure_stack.runtime.sandbox import SandboxError
from openclaw_secure_stack.runtime.skill_quarantine import QuarantineListError
from openclaw_secure_stack.runtime.stack import RunState, Stack, StackError, owner_lock, read_state
from openclaw_secure_stack.runtime.supervisor import ChildStartError
from openclaw_secure_stack.settings import Settings, load_settings

EXIT_FAILED = 1
STARTUP_ERRORS = (
    StackError,
    CredentialError,
    InstallError,
    NodeError,
    SandboxError,
    QuarantineListError,
    ChildStartError,
)


def banner(state: RunState, token: str | None) -> Group:
    """Where to connect, then the token and a curl line outside the box, never wrapped, so
    they can be copied as they are."""
    lines = Text()
    lines.append("Connect to  ", style="bold")
    lines.append(f"{state.proxy_url}/v1/chat/completions\n")
    lines.append("Model       ", style="bold")
    lines.append(f"{state.model}\n")
    if state.model_gateway_url:
        lines.append("Gateway     ", style="bold")
        lines.append(f"{state.model_gateway_url} (pid {state.model_gateway_pid}, holds the key)\n")
    lines.append("OpenClaw    ", style="bold")
    lines.append(f"{state.openclaw_version} (pid {state.gateway_pid}, loopback only)\n")
    lines.append("Data        ", style="bold")
    lines.append(f"{state.data_dir}\n")
    lines.append("Ctrl-C stops everything.", style="dim")
    panel = Panel(lines, title="OpenClaw Secure Stack is up", border_style="green")
    if token is None:
        return Group(
            panel, Text("Token: one of the client tokens in CLIENT_TOKENS / CLIENT_TOKENS_FILE")
        )
    curl = (
        f"curl {state.proxy_url}/v1/chat/completions -H 'Authorization: Bearer {token}' "
        "-H 'Content-Type: application/json' "
        '-d \'{"model":"openclaw","messages":[{"role":"user","content":"hello"}]}\''
    )
    return Group(
        panel,
        Text.assemble(("Token: ", "bold"), f"Authorization: Bearer {token}"),
        Text.assemble(("Try:   ", "bold"), curl),
    )


async def _run(settings: Settings, console: Console) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    def report(message: str) -> None:
        console.print(Text(message, style="cyan"))

    stack = Stack(settings, report)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        starting = asyncio.ensure_future(stack.start())
        await asyncio.wait({starting, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            starting.cancel()
            console.print("interrupted while starting; stopping")
            return
        state = starting.result()
        credentials = stack.credentials
        token = credentials.generated_client_token if credentials else None
        console.print(banner(state, token), soft_wrap=True)
        watching = asyncio.ensure_future(stack.watch())
        await asyncio.wait({watching, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if watching.done():
            watching.result()
        else:
            watching.cancel()
        console.print("stopping: proxy, then OpenClaw")
    finally:
        stopped.cancel()
        await stack.stop()


def up() -> None:
    """Start OpenClaw (loopback only), its model gateway and the authenticating proxy.

    The first run installs the pinned OpenClaw with npm (about 650 MB, once per lockfile
    version) and creates a client token, the gateway token and the audit key under DATA_DIR
    (0600 files; values from the environment or .env win). It then prints the URL and the
    token to use. OpenClaw's model provider is the model gateway (MODEL_GATEWAY_HOST and
    MODEL_GATEWAY_PORT, loopback), which alone holds MODEL_API_KEY; OpenClaw gets a key for the
    gateway only, new on every start. A child that dies is restarted; Ctrl-C or SIGTERM stops
    everything. Without MODEL_BASE_URL the stack still runs (no gateway), and chat requests
    get an error that says how to configure a model.
    """
    console = Console(highlight=False)
    errors = Console(stderr=True, highlight=False)
    settings = load_settings()
    try:
        # The same loaders the proxy child and `doctor` run, before anything is written.
        for loader in startup_loaders(settings):
            loader.load()
        with owner_lock(settings.data_dir):
            asyncio.run(_run(settings, console))
    except STARTUP_ERRORS as exc:
        errors.print(Text(f"error: {exc}", style="red"))
        raise typer.Exit(EXIT_FAILED) from None
    console.print("stopped")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def status(output: FormatOption = OutputFormat.text) -> None:
    """Whether `up` is running for DATA_DIR: URLs, process ids, versions, and whether the model
    gateway answers (its provider kind and host, never the key). Exit 1 if not running."""
    settings = load_settings()
    state = read_state(settings.data_dir)
    processes = (
        {
            "up": state.up_pid,
            "openclaw": state.gateway_pid,
            "proxy": state.proxy_pid,
            **({"model gateway": state.model_gateway_pid} if state.model_gateway_pid else {}),
        }
        if state
        else {}
    )
    alive = {name: _alive(pid) for name, pid in processes.items()}
    listening = bool(
        state
        and state.model_gateway_url
        and answers(state.model_gateway_url.removesuffix("/v1") + "/health", timeout=2.0)
    )
    if output is OutputFormat.json:
        document = {
            "running": state is not None,
            "state": asdict(state) if state else None,
            "alive": alive,
            "model_gateway_listening": listening,
        }
        sys.stdout.write(json.dumps(document) + "\n")
    else:
        console = Console(highlight=False)
        if state is None:
            console.print(f"not running (data dir {settings.data_dir.resolve()})")
        else:
            table = Table(show_header=False, box=None)
            table.add_row("proxy", state.proxy_url)
            table.add_row("openclaw", f"{state.gateway_url} (openclaw {state.openclaw_version})")
            table.add_row("node", state.node_version)
            table.add_row("model", state.model)
            if state.model_gateway_url:
                answering = "listening" if listening else "NOT ANSWERING"
                table.add_row("model gateway", f"{state.model_gateway_url} ({answering})")
            else:
                table.add_row("model gateway", "not started (no model configured)")
            table.add_row("data dir", state.data_dir)
            table.add_row("started", state.started_at)
            for name, pid in processes.items():
                table.add_row(f"pid {name}", f"{pid} ({'alive' if alive[name] else 'gone'})")
            console.print(Panel(table, title="running", border_style="green"))
    if state is None:
        raise typer.Exit(EXIT_FAILED)


def doctor(output: FormatOption = OutputFormat.text) -> None:
    """Check Node, the OpenClaw install, the plugin, rules, ports, permissions and config.

    Each check says pass, warn or fail, and how to fix a failure. Exit 1 if any check fails.
    """
    settings = load_settings()
    checks = run_checks(settings)
    failed = any(check.status is Status.failed for check in checks)
    if output is OutputFormat.json:
        document = {"ok": not failed, "checks": [asdict(check) for check in checks]}
        sys.stdout.write(json.dumps(document) + "\n")
    else:
        styles = {Status.passed: "green", Status.warning: "yellow", Status.failed: "red"}
        table = Table("check", "", "detail", "fix")
        for check in checks:
            table.add_row(
                check.name,
                Text(check.status.value, style=styles[check.status]),
                check.detail,
                check.fix,
            )
        Console(highlight=False).print(table)
    if failed:
        raise typer.Exit(EXIT_FAILED)
