"""Runs the proxy under granian: each worker process builds its own app, audit log handle and
pooled upstream session. granian bounds slow and oversized request heads (header read timeout,
431 for heads over its buffer); the app bounds slow and oversized bodies."""

from __future__ import annotations

from functools import partial

from granian import Granian
from granian.constants import HTTPModes, Interfaces, Loops
from granian.http import HTTP1Settings

from openclaw_secure_stack.audit.log import AuditLog
from openclaw_secure_stack.proxy.app import ProxyApp, build_app
from openclaw_secure_stack.settings import Settings

# Request heads larger than this get 431 from granian (its smallest buffer is 8 KiB + 4 KiB).
MAX_HEAD_BYTES = 64 * 1024


def check_settings(settings: Settings) -> None:
    """Build the app once in the parent, so a bad setting, token, rules file or audit log stops
    start-up with the cause named (SettingsError, RulesError, AuditLogError) before any worker
    starts."""
    audit = AuditLog.from_settings(settings)
    try:
        audit.check()
        build_app(settings, audit)
    finally:
        audit.close()


def worker_app(settings: Settings) -> ProxyApp:
    """One worker's app. Its first record says it (re)started and from which head, so a restart
    is never silent in the log."""
    audit = AuditLog.from_settings(settings)
    audit.resume("proxy")
    return build_app(settings, audit)


def serve(settings: Settings) -> None:
    """Serve the proxy on PROXY_HOST:PROXY_PORT until SIGINT/SIGTERM. Raises SettingsError."""
    check_settings(settings)
    server = Granian(
        target="openclaw_secure_stack.proxy.server:worker_app",
        address=settings.proxy_host,
        port=settings.proxy_port,
        interface=Interfaces.ASGI,
        workers=settings.proxy_workers,
        loop=Loops.uvloop,
        http=HTTPModes.http1,
        websockets=True,
        http1_settings=HTTP1Settings(
            header_read_timeout=int(settings.client_timeout * 1000),
            max_buffer_size=MAX_HEAD_BYTES,
        ),
        log_access=False,
    )
    server.serve(target_loader=partial(worker_app, settings), wrap_loader=False)
