"""`model-gateway`: run the model gateway by hand (until `up` starts it beside the proxy).

Secrets come only from the environment, never from the command line (where `ps` shows them):
MODEL_GATEWAY_KEY (the key OpenClaw presents), MODEL_API_KEY (the provider's), AUDIT_KEY.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from openclaw_secure_stack.audit.log import AuditLogError
from openclaw_secure_stack.detect import RulesError
from openclaw_secure_stack.model_gateway.config import (
    PROVIDER_KINDS,
    GatewayConfig,
    GatewayConfigError,
    ProviderConfig,
)
from openclaw_secure_stack.model_gateway.server import Resources, serve
from openclaw_secure_stack.resources import INDIRECT_RULES, PROMPT_RULES

EXIT_CONFIG = 2


def _secret(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise GatewayConfigError(f"{name}: not set in the environment")
    return value


def model_gateway(
    base_url: Annotated[str, typer.Option(envvar="MODEL_BASE_URL", help="Provider base URL.")],
    provider: Annotated[
        str, typer.Option(envvar="MODEL_PROVIDER", help=f"One of {', '.join(PROVIDER_KINDS)}.")
    ] = "openai",
    model: Annotated[str, typer.Option(envvar="MODEL_NAME", help="Provider model id.")] = (
        "gpt-4o-mini"
    ),
    host: Annotated[str, typer.Option(envvar="MODEL_GATEWAY_HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="MODEL_GATEWAY_PORT")] = 8081,
    direct_rules: Annotated[Path, typer.Option(envvar="PROMPT_RULES_PATH")] = PROMPT_RULES,
    indirect_rules: Annotated[Path, typer.Option(envvar="INDIRECT_RULES_PATH")] = INDIRECT_RULES,
    audit_log: Annotated[Path, typer.Option(envvar="AUDIT_LOG_PATH")] = Path(
        ".oss-data/audit/audit.jsonl"
    ),
) -> None:
    """Serve the OpenAI-compatible model gateway on loopback in front of one provider.

    Tool results are cleaned with the indirect rules before the model reads them, every model
    call is audited, and the provider key stays in this process. Stops on Ctrl-C or SIGTERM.

    Secrets only from the environment: MODEL_GATEWAY_KEY (what OpenClaw presents, at least 32
    characters), MODEL_API_KEY (the provider's) and AUDIT_KEY.
    """
    errors = Console(stderr=True, highlight=False)
    try:
        config = GatewayConfig(
            gateway_key=_secret("MODEL_GATEWAY_KEY"),
            provider=ProviderConfig(provider, base_url, _secret("MODEL_API_KEY"), model),  # type: ignore[arg-type]
            host=host,
            port=port,
        )
        resources = Resources(
            direct_rules, indirect_rules, audit_log, _secret("AUDIT_KEY").encode()
        )
        errors.print(
            f"model gateway on http://{host}:{port}/v1 -> {provider} {base_url} ({model}); "
            f"audit log {audit_log}"
        )
        serve(config, resources)
    except (GatewayConfigError, AuditLogError, RulesError) as exc:
        errors.print(Text(f"error: {exc}", style="red"))
        raise typer.Exit(EXIT_CONFIG) from None
