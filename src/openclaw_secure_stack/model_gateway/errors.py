"""Errors the gateway answers with, in the OpenAI error format OpenClaw's client reads."""

from __future__ import annotations

import json


class GatewayError(Exception):
    """Ends a model call with `status` and `{"error": {"message", "type", "param", "code"}}`."""

    def __init__(self, status: int, code: str, message: str, kind: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.kind = kind or ("invalid_request_error" if status < 500 else "upstream_error")
        # Set once an audit record of this error was written (or could not be).
        self.audited = False

    def payload(self) -> dict[str, object]:
        error = {"message": self.message, "type": self.kind, "param": None, "code": self.code}
        return {"error": error}

    def body(self) -> bytes:
        return json.dumps(self.payload(), separators=(",", ":")).encode()


def invalid(message: str) -> GatewayError:
    """A malformed request: 400."""
    return GatewayError(400, "invalid_request", message)


def failed() -> GatewayError:
    """A bug inside the gateway: the call is blocked, with a JSON error all the same."""
    return GatewayError(500, "gateway_failed", "the model gateway failed; the call was blocked")
