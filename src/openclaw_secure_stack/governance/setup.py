"""Building governance from configuration, for the processes that decide.

`load_engine` reads the policy file and the tool table (PolicyError / ToolTableError name the
file and the fix); `places_of` maps OpenClaw's directories to the `$workspace`, `$home`,
`$state` and `$config` that policies name; `GovernanceSetup` is what a server process is handed
(it pickles into granian's worker) to build the service with its SQLite store there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from openclaw_secure_stack.audit.sink import AuditSink
from openclaw_secure_stack.governance.classify import load_tool_table
from openclaw_secure_stack.governance.engine import Engine
from openclaw_secure_stack.governance.policy import load_policies
from openclaw_secure_stack.governance.service import Governance
from openclaw_secure_stack.governance.store import SqliteStore
from openclaw_secure_stack.runtime.gateway_config import GatewayPaths
from openclaw_secure_stack.settings import GovernanceConfig


def load_engine(config: GovernanceConfig) -> Engine:
    return Engine(load_policies(config.policy_path), load_tool_table(config.tools_path))


def places_of(paths: GatewayPaths) -> Mapping[str, Path]:
    """OpenClaw's directories as the OS resolves them (symlinks followed)."""
    return {
        "workspace": paths.workspace.resolve(),
        "home": paths.home.resolve(),
        "state": paths.state_dir.resolve(),
        "config": paths.config_path.resolve(),
    }


@dataclass(frozen=True)
class GovernanceSetup:
    config: GovernanceConfig
    places: Mapping[str, Path]

    def governance(self, audit: AuditSink) -> Governance:
        return Governance(
            load_engine(self.config),
            SqliteStore(self.config.db_path),
            self.places,
            audit,
            approval_ttl=self.config.approval_ttl,
        )
