from __future__ import annotations

from pathlib import Path

import pytest

from openclaw_secure_stack.settings import Settings


@pytest.fixture
def no_stack_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No stack setting from the caller's environment, and an empty working directory, so no
    `.env` is read: each test sets exactly what it needs."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)
