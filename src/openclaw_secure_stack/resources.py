"""Files that ship inside the package: rules, quarantine list, classifier and the plugin.

Read through `importlib.resources`, so an installed wheel finds them wherever it is run from.
They must be real files on disk: OpenClaw loads the plugin and its rules by absolute path.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def packaged(*parts: str) -> Path:
    """The absolute path of a file shipped under `openclaw_secure_stack/data/`."""
    resource = files("openclaw_secure_stack").joinpath("data", *parts)
    if not isinstance(resource, Path):
        raise RuntimeError(
            "openclaw_secure_stack must be installed as files on disk (not zipped): "
            f"its data file {'/'.join(parts)} has no path"
        )
    return resource


PROMPT_RULES = packaged("prompt-rules.json")
INDIRECT_RULES = packaged("indirect-injection-rules.json")
QUARANTINE_LIST = packaged("quarantine.json")
OPENCLAW_ROUTES = packaged("openclaw-routes.json")
SCANNER_RULES = packaged("scanner-rules.json")
CLASSIFIER_MODEL = packaged("models", "injection-classifier", "model.json")
PROMPT_GUARD_PLUGIN = packaged("prompt-guard")
GOVERNANCE_TOOLS = packaged("governance-tools.json")
DEFAULT_POLICY = packaged("policies", "default.json")
