"""Logging set-up: everything goes to stderr, never stdout (stdout is the MCP channel)."""

from __future__ import annotations

import logging
import sys

__all__ = ["configure_logging"]

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str = "INFO") -> None:
    """Send all log records to stderr at ``level`` (the CLI passes
    :func:`codeloci.config.resolve_log_level`: ``--log-level``, ``CODELOCI_LOG_LEVEL``, INFO)."""
    name = level.upper()
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
