"""The webhook fixtures of the integration tests (tests/integration/webhooks/conftest.py)."""

from tests.integration.webhooks.conftest import relay_overrides, relays

__all__ = ["relay_overrides", "relays"]
