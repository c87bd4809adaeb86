"""`serve`: run the ingress proxy alone, in front of an OpenClaw that is already running."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.text import Text

from openclaw_secure_stack.audit.log import AuditLogError
from openclaw_secure_stack.detect import RulesError
from openclaw_secure_stack.detect.classifier import ClassifierError
from openclaw_secure_stack.proxy.server import serve as serve_proxy
from openclaw_secure_stack.settings import SettingsError, load_settings

EXIT_CONFIG = 2


def serve() -> None:
    """Run the authenticating proxy on PROXY_HOST:PROXY_PORT in front of UPSTREAM_URL.

    Needs OPENCLAW_GATEWAY_TOKEN (the proxy's own token for OpenClaw), at least one client
    token (CLIENT_TOKENS or CLIENT_TOKENS_FILE; make one with `token new NAME`) and AUDIT_KEY.
    Settings come from the environment and `.env`. A setting that cannot be used stops start-up
    with exit code 2 and a message naming it. Stops cleanly on Ctrl-C or SIGTERM.
    """
    errors = Console(stderr=True, highlight=False)
    try:
        settings = load_settings()
        errors.print(
            f"proxy on http://{settings.proxy_host}:{settings.proxy_port} -> "
            f"{settings.upstream_url} ({settings.proxy_workers} worker(s)); "
            f"audit log {settings.audit_log_path}"
        )
        serve_proxy(settings)
    except (SettingsError, AuditLogError, RulesError, ClassifierError) as exc:
        errors.print(Text(f"error: {exc}", style="red"))
        raise typer.Exit(EXIT_CONFIG) from None
