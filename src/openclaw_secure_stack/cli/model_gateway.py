"""`model-gateway`: the model gateway alone (`up` runs it as a child beside the proxy).

Secrets come only from the environment or `.env`, never from the command line (where `ps` shows
them): MODEL_GATEWAY_KEY (the key OpenClaw presents), MODEL_API_KEY (the provider's), AUDIT_KEY.
"""

from __future__ import annotations

from rich.console import Console

from openclaw_secure_stack.governance.gateway import EngineDecider
from openclaw_secure_stack.governance.setup import GovernanceSetup, places_of
from openclaw_secure_stack.model_gateway.server import Resources, serve
from openclaw_secure_stack.runtime.stack import gateway_paths
from openclaw_secure_stack.settings import load_settings


def model_gateway() -> None:
    """Serve the OpenAI-compatible model gateway on MODEL_GATEWAY_HOST:MODEL_GATEWAY_PORT
    (loopback only) in front of the provider at MODEL_BASE_URL (MODEL_PROVIDER: openai or
    anthropic, model MODEL_NAME).

    Tool results are cleaned with the indirect rules before the model reads them, every tool call
    the model proposes is decided by the governance policy (GOVERNANCE_POLICY_PATH; a blocked
    one is removed from the reply), the prompt-guard plugin's decide endpoint is served on the
    internal API, every model call is audited in AUDIT_LOG_PATH, and the provider key stays in
    this process. Stops on Ctrl-C or SIGTERM.

    Secrets only from the environment or `.env`: MODEL_GATEWAY_KEY (what OpenClaw presents, at
    least 32 characters), MODEL_API_KEY (the provider's) and AUDIT_KEY. A setting or file that
    cannot be used stops start-up with exit code 2 and a message naming it.
    """
    settings = load_settings()
    config = settings.model_gateway_config()
    resources = Resources.from_settings(settings)
    Console(stderr=True, highlight=False).print(
        f"model gateway on {config.base_url} -> {config.provider.summary}; "
        f"audit log {resources.audit.path}"
    )
    governance = GovernanceSetup(settings.governance_config(), places_of(gateway_paths(settings)))
    decider = EngineDecider(governance.config, governance.places)
    serve(config, resources, decider=decider, governance=governance)
