"""The model gateway: OpenClaw's model provider, in front of the real one.

OpenClaw calls it as an OpenAI-compatible endpoint with a per-start gateway key; the gateway holds
the real provider key, cleans every tool result with the indirect-injection rules before the model
reads it, records what each proposed tool call was proposed after reading (`provenance`), passes
each complete call to a decision hook (`decisions`), and audits every model call.

`build_app(config, detector, sink)` (`app.py`) is the ASGI app; `server.serve(...)` runs it under
granian. Configuration is its own small dataclass (`config.GatewayConfig`).
"""
