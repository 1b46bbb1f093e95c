"""``codeloci service status|stop|logs|run``: look at, stop, or (internally) run the service."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections import deque

from codeloci.config import Settings
from codeloci.service.client import service_running
from codeloci.service.paths import ServicePaths

__all__ = ["add_service_args", "cmd_service", "stop_service"]

#: How long ``stop`` waits for the service to exit before it gives up.
STOP_WAIT_SECONDS = 30.0


def add_service_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action",
        choices=("status", "stop", "logs", "run"),
        help="status: is it up, where; stop: stop it now; logs: its log's last lines; "
        "run: be the service (started for you when needed)",
    )
    parser.add_argument("-n", type=int, default=50, help="logs: how many lines (default 50)")


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its parent to reap it does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return True


def stop_service(paths: ServicePaths, wait: float = STOP_WAIT_SECONDS) -> bool:
    """Ask the running service to stop (SIGTERM) and wait for its socket to close; False when
    none was running."""
    pid = paths.read_pid()
    if pid is None or not service_running(paths):
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    raise RuntimeError(f"the codeloci service (pid {pid}) did not stop within {wait:.0f} s")


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
        except (RuntimeError, PermissionError) as exc:
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
