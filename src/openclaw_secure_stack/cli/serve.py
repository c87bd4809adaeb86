"""`serve`: run the ingress proxy alone, in front of an OpenClaw that is already running."""

from __future__ import annotations

from rich.console import Console

from openclaw_secure_stack.proxy.server import serve as serve_proxy
from openclaw_secure_stack.settings import load_settings


def serve() -> None:
    """Run the authenticating proxy on PROXY_HOST:PROXY_PORT in front of UPSTREAM_URL.

    Needs OPENCLAW_GATEWAY_TOKEN (the proxy's own token for OpenClaw), at least one client
    token (CLIENT_TOKENS or CLIENT_TOKENS_FILE; make one with `token new NAME`) and AUDIT_KEY.
    Settings come from the environment and `.env` in the working directory. A setting, rules
    file or model that cannot be used stops start-up with exit code 2 and a message naming it,
    before anything is written. Stops cleanly on Ctrl-C or SIGTERM.
    """
    config = load_settings().proxy_config()
    Console(stderr=True, highlight=False).print(
        f"proxy on http://{config.host}:{config.port} -> {config.upstream.base_url} "
        f"({config.workers} worker(s)); audit log {config.audit.path}"
    )
    serve_proxy(config)
