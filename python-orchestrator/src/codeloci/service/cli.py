"""``codeloci service status|stop|logs|run``: look at, stop, or (internally) run the service."""

from __future__ import annotations

import argparse
import sys
from collections import deque

from codeloci.config import Settings
from codeloci.service.client import ServiceError, service_running, stop_service
from codeloci.service.paths import ServicePaths

__all__ = ["add_service_args", "cmd_service"]


def add_service_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action",
        choices=("status", "stop", "logs", "run"),
        help="status: is it up, where; stop: stop it now; logs: its log's last lines; "
        "run: be the service (started for you when needed)",
    )
    parser.add_argument("-n", type=int, default=50, help="logs: how many lines (default 50)")


def cmd_service(args: argparse.Namespace, settings: Settings) -> int:
    """``status``, ``stop`` and ``logs`` (``run`` is :func:`codeloci.service_main.run_service`)."""
    paths = ServicePaths.for_settings(settings)
    if args.action == "status":
        if service_running(paths):
            print(f"running: pid {paths.read_pid()}, socket {paths.socket}")
            print(f"log: {paths.log}")
            return 0
        print(f"not running (it starts on first use); log: {paths.log}")
        return 3
    if args.action == "stop":
        try:
            stopped = stop_service(paths)
        except (ServiceError, PermissionError) as exc:
            print(f"codeloci service stop: {exc}", file=sys.stderr)
            return 1
        print("stopped" if stopped else "not running")
        return 0
    try:
        with open(paths.log, errors="replace") as f:
            for line in deque(f, maxlen=max(1, args.n)):
                sys.stdout.write(line)
    except FileNotFoundError:
        print(f"no log yet at {paths.log}", file=sys.stderr)
        return 1
    return 0
