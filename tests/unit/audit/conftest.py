import pytest


@pytest.fixture(autouse=True)
def _no_dotenv(tmp_path, monkeypatch):
    """Run from an empty directory so a developer's .env cannot change the settings."""
    monkeypatch.chdir(tmp_path)
