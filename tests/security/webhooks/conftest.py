"""The webhook fixtures of the integration tests (tests/integration/webhooks/conftest.py)."""

from tests.integration.webhooks.conftest import graph, relay_overrides, relays, telegram

__all__ = ["graph", "relay_overrides", "relays", "telegram"]
