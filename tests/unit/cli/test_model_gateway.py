"""`model-gateway`: an unusable configuration stops start-up with exit code 2, naming it."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from openclaw_secure_stack import resources
from openclaw_secure_stack.cli.main import app
from openclaw_secure_stack.settings import Settings

GOOD = {
    "MODEL_GATEWAY_KEY": "g" * 40,
    "MODEL_API_KEY": "sk-real-provider-key",
    "AUDIT_KEY": "a" * 40,
    "MODEL_BASE_URL": "http://127.0.0.1:1/v1",  # never contacted: start-up stops first
    "PROMPT_RULES_PATH": str(resources.PROMPT_RULES),
    "INDIRECT_RULES_PATH": str(resources.INDIRECT_RULES),
}


def run(tmp_path: Path, **changes: str | None) -> tuple[int, str]:
    environment = {**GOOD, "AUDIT_LOG_PATH": str(tmp_path / "audit.jsonl"), **changes}
    result = CliRunner().invoke(app, ["model-gateway"], env=environment)
    return result.exit_code, result.output + (result.stderr if result.stderr_bytes else "")


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"MODEL_GATEWAY_KEY": None}, "MODEL_GATEWAY_KEY: not set"),
        ({"MODEL_API_KEY": None}, "MODEL_API_KEY: not set"),
        ({"AUDIT_KEY": None}, "AUDIT_KEY: not set"),
        ({"MODEL_BASE_URL": None}, "MODEL_BASE_URL: not set"),
        ({"MODEL_GATEWAY_KEY": "short"}, "MODEL_GATEWAY_KEY: Value error, must be at least 32"),
        ({"MODEL_PROVIDER": "bedrock"}, "MODEL_PROVIDER: Input should be 'openai' or 'anthropic'"),
        ({"MODEL_BASE_URL": "file:///etc"}, "MODEL_BASE_URL: Value error, must start with http://"),
        (
            {"MODEL_GATEWAY_HOST": "0.0.0.0"},
            "MODEL_GATEWAY_HOST: Value error, '0.0.0.0' is not loopback",
        ),
        ({"INDIRECT_RULES_PATH": "/nonexistent/rules.json"}, "rules.json"),
    ],
)
def test_bad_configuration_exits_2_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, changes: dict[str, str | None], named: str
) -> None:
    """Each unusable value stops start-up before listening, with a message naming it."""
    monkeypatch.chdir(tmp_path)  # no .env
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    code, output = run(tmp_path, **changes)
    assert code == 2
    assert named in " ".join(output.split())


def test_secrets_are_not_options() -> None:
    """The keys can only come from the environment, never the command line (`ps` shows it)."""
    result = CliRunner().invoke(app, ["model-gateway", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "--api-key" not in result.output
    assert "--gateway-key" not in result.output
    assert "MODEL_API_KEY" in result.output
