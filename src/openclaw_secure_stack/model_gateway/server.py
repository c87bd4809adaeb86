"""Runs the gateway under granian (one worker: the verdict cache and provenance store are
in-process), with the proxy's server settings."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

from openclaw_secure_stack import asgi
from openclaw_secure_stack.audit.log import AuditLog
from openclaw_secure_stack.detect import load_detector
from openclaw_secure_stack.model_gateway.app import GatewayApp, build_app
from openclaw_secure_stack.model_gateway.config import GatewayConfig


@dataclass(frozen=True)
class Resources:
    """The files the gateway reads at start-up: rules and the audit log with its key."""

    direct_rules: Path
    indirect_rules: Path
    audit_log: Path
    audit_key: bytes
    audit_rotate_bytes: int = 64 << 20

    def __repr__(self) -> str:
        return f"Resources(indirect_rules={self.indirect_rules!r}, audit_log={self.audit_log!r})"


def worker_app(config: GatewayConfig, resources: Resources) -> GatewayApp:
    audit = AuditLog(resources.audit_log, resources.audit_key, resources.audit_rotate_bytes)
    audit.resume("model-gateway")  # a restart is a record, never a silent continuation
    detector = load_detector(resources.direct_rules, resources.indirect_rules)
    return build_app(config, detector, audit)


def check(config: GatewayConfig, resources: Resources) -> None:
    """Load the rules and open the audit log once, so a bad file stops start-up with its cause
    (RulesError, AuditLogError) before the server starts."""
    audit = AuditLog(resources.audit_log, resources.audit_key, resources.audit_rotate_bytes)
    try:
        audit.check()
        load_detector(resources.direct_rules, resources.indirect_rules)
    finally:
        audit.close()


def serve(config: GatewayConfig, resources: Resources) -> None:
    """Serve on config.host:config.port until SIGINT/SIGTERM."""
    check(config, resources)
    asgi.serve(
        "openclaw_secure_stack.model_gateway.server:worker_app",
        partial(worker_app, config, resources),
        host=config.host,
        port=config.port,
        workers=1,
        websockets=False,
        client_timeout=config.client_timeout,
    )
