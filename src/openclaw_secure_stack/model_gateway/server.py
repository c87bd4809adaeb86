"""Runs the gateway under granian (one worker: the verdict cache and provenance store are
in-process), with the proxy's server settings."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

from openclaw_secure_stack import asgi
from openclaw_secure_stack.detect import load_detector
from openclaw_secure_stack.governance.endpoint import GovernanceEndpoint
from openclaw_secure_stack.governance.setup import GovernanceSetup, load_engine
from openclaw_secure_stack.model_gateway.app import GatewayApp, build_app
from openclaw_secure_stack.model_gateway.config import GatewayConfig
from openclaw_secure_stack.model_gateway.decisions import ToolCallDecider
from openclaw_secure_stack.model_gateway.provenance import MemoryProvenance
from openclaw_secure_stack.proxy.server import audit_log
from openclaw_secure_stack.settings import AuditConfig, Settings


@dataclass(frozen=True)
class Resources:
    """The files the gateway reads at start-up: the rules, and the audit log (the proxy's: same
    file, anchor and key) it writes to."""

    direct_rules: Path
    indirect_rules: Path
    audit: AuditConfig

    @classmethod
    def from_settings(cls, settings: Settings) -> Resources:
        """Raises SettingsError when AUDIT_KEY is not set."""
        return cls(
            settings.prompt_rules_path, settings.indirect_rules_path, settings.audit_config()
        )

    def __repr__(self) -> str:
        return f"Resources(indirect_rules={self.indirect_rules!r}, audit_log={self.audit.path!r})"


def worker_app(
    config: GatewayConfig,
    resources: Resources,
    decider: ToolCallDecider | None = None,
    governance: GovernanceSetup | None = None,
) -> GatewayApp:
    audit = audit_log(resources.audit)
    audit.resume("model-gateway")  # a restart is a record, never a silent continuation
    detector = load_detector(resources.direct_rules, resources.indirect_rules)
    provenance = MemoryProvenance(config.provenance_entries)
    endpoint = (
        None if governance is None else GovernanceEndpoint(governance.governance(audit), provenance)
    )
    return build_app(
        config, detector, audit, decider=decider, provenance=provenance, governance=endpoint
    )


def check(
    config: GatewayConfig, resources: Resources, governance: GovernanceSetup | None = None
) -> None:
    """Load the rules (and the governance policy) and open the audit log once, so a bad file
    stops start-up with its cause (RulesError, PolicyError, AuditLogError) before the server
    starts."""
    audit = audit_log(resources.audit)
    try:
        audit.check()
        load_detector(resources.direct_rules, resources.indirect_rules)
        if governance is not None:
            load_engine(governance.config)
    finally:
        audit.close()


def serve(
    config: GatewayConfig,
    resources: Resources,
    decider: ToolCallDecider | None = None,
    governance: GovernanceSetup | None = None,
) -> None:
    """Serve on config.host:config.port until SIGINT/SIGTERM.

    `decider` decides every complete tool call the model proposes (default: allow all); the
    governance engine passes its own. `governance` serves the plugin's decide endpoint on the
    internal API. Both are handed to granian's worker process, so they must be picklable (a
    module-level class, not a closure).
    """
    check(config, resources, governance)
    asgi.serve(
        "openclaw_secure_stack.model_gateway.server:worker_app",
        partial(worker_app, config, resources, decider, governance),
        host=config.host,
        port=config.port,
        workers=1,
        websockets=False,
        client_timeout=config.client_timeout,
    )
