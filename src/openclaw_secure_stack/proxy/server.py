"""Runs the proxy under granian: each worker process builds its own app, audit log handle and
pooled upstream session."""

from __future__ import annotations

from functools import partial

from openclaw_secure_stack import asgi
from openclaw_secure_stack.audit.log import AuditLog
from openclaw_secure_stack.proxy.app import ProxyApp, build_app
from openclaw_secure_stack.settings import AuditConfig, ProxyConfig


def audit_log(config: AuditConfig) -> AuditLog:
    """The audit log handle; nothing is opened or created until its first check or write."""
    return AuditLog(
        config.path,
        config.key,
        config.rotate_bytes,
        anchor_path=config.anchor_path,
        fsync=config.fsync,
    )


def check_config(config: ProxyConfig) -> None:
    """Build the app once in the parent, so a bad rules file, classifier or audit log stops
    start-up with the cause named (RulesError, AuditLogError) before any worker starts. The
    app is built first: only a usable configuration gets as far as creating the audit log."""
    audit = audit_log(config.audit)
    try:
        build_app(config, audit)
        audit.check()
    finally:
        audit.close()


def worker_app(config: ProxyConfig) -> ProxyApp:
    """One worker's app. Its first record says it (re)started and from which head, so a restart
    is never silent in the log."""
    audit = audit_log(config.audit)
    audit.resume("proxy")
    return build_app(config, audit)


def serve(config: ProxyConfig) -> None:
    """Serve the proxy on PROXY_HOST:PROXY_PORT until SIGINT/SIGTERM. Raises RulesError or
    AuditLogError for unusable files."""
    check_config(config)
    asgi.serve(
        "openclaw_secure_stack.proxy.server:worker_app",
        partial(worker_app, config),
        host=config.host,
        port=config.port,
        workers=config.workers,
        websockets=True,
        client_timeout=config.client_timeout,
    )
