"""A test-only entry point: the real model gateway, with a decider that blocks `exec` calls.

`server.serve(..., decider=...)` is how the governance engine plugs its decisions in; this
script plugs in `BlockExec` the same way (there is no production flag for it). Settings as for
`openclaw-secure-stack model-gateway`, from the environment. Run by
test_model_gateway_real_openclaw.py: `python deciding_gateway.py`.
"""

from __future__ import annotations

from openclaw_secure_stack.model_gateway.decisions import (
    ALLOW,
    CallDecision,
    ProposedCall,
)
from openclaw_secure_stack.model_gateway.provenance import Provenance
from openclaw_secure_stack.model_gateway.server import Resources, serve
from openclaw_secure_stack.settings import load_settings

BLOCKED_TOOL = "exec"
REASON = "exec is not allowed by the end-to-end test policy"


class BlockExec:
    """Blocks every `exec` call, allows the rest."""

    async def decide(self, call: ProposedCall, provenance: Provenance) -> CallDecision:
        return CallDecision(False, REASON) if call.name == BLOCKED_TOOL else ALLOW


def main() -> None:
    settings = load_settings()
    serve(settings.model_gateway_config(), Resources.from_settings(settings), decider=BlockExec())


if __name__ == "__main__":
    main()
