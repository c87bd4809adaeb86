"""Telegram and WhatsApp relays: phone messages reach OpenClaw through the proxy's protections,
and only from allowlisted senders. `routes.mount` builds the proxy stage; `docs/webhooks.md`
explains the setup."""
