"""Logging set-up: everything goes to stderr, never stdout (stdout is the MCP channel)."""

from __future__ import annotations

import logging
import os
import sys

__all__ = ["configure_logging"]

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str | None = None) -> None:
    """Send all log records to stderr at ``level`` (default ``CODELOCI_LOG_LEVEL`` or INFO)."""
    name = (level or os.environ.get("CODELOCI_LOG_LEVEL") or "INFO").upper()
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(_FORMAT))
    root.addHandler(handler)
    root.setLevel(getattr(logging, name, logging.INFO))
    # The SDK's per-message OpenTelemetry and httpx chatter is noise at INFO.
    for noisy in ("httpx", "mcp.server._otel", "mcp.shared._otel"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
