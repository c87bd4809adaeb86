"""OpenClaw Secure Stack: a security wrapper around an unmodified OpenClaw gateway."""

__version__ = "0.1.0"
