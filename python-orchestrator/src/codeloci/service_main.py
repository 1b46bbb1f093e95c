"""The service process (``codeloci service run``, see :mod:`codeloci.service`): our MCP server
over streamable HTTP on a unix socket, one :class:`~codeloci.app.Core` for every session
(:class:`~codeloci.server.SessionHub`). It sits beside the ``service`` package, not in it: the
package's session side must not import the server.

It holds ``service.lock`` for its whole life (so a second service for the same data directory
cannot run), listens on a socket it creates 0600 inside the private service directory, writes
its pid file, and stops once idle: no request in flight, no index run or background embedding,
and no live client process (each request names its client's pid) for
``CODELOCI_SERVICE_IDLE`` seconds. Stopping closes the store cleanly; a ``kill -9`` loses
nothing acknowledged (every write is answered only once stored) and the next client starts a
new service.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import socket
import time
from contextlib import suppress
from dataclasses import dataclass, field, replace
from typing import Any

import anyio

from codeloci import __version__
from codeloci.app import Core
from codeloci.config import Settings
from codeloci.service.client import CLIENT_PID_HEADER, code_key
from codeloci.service.paths import ServicePaths
from codeloci.stdio_limits import MAX_MESSAGE_BYTES

__all__ = ["run_service"]

log = logging.getLogger(__name__)

#: Seconds between idleness checks.
IDLE_CHECK_SECONDS = 1.0
#: How long a new service waits for an old one (still shutting down) to release the lock.
LOCK_WAIT_SECONDS = 15.0


@dataclass
class Activity:
    """What keeps the service up: requests in flight, recent requests, live client pids."""

    in_flight: int = 0
    last: float = field(default_factory=time.monotonic)
    clients: set[int] = field(default_factory=set)
    core: Core | None = None

    def live_clients(self) -> set[int]:
        alive = set()
        for pid in self.clients:
            with suppress(ProcessLookupError, PermissionError):
                os.kill(pid, 0)
                alive.add(pid)
        self.clients = alive
        return alive

    def idle_for(self) -> float:
        busy = self.core is not None and self.core.busy
        if self.in_flight or busy or self.live_clients():
            self.last = time.monotonic()
            return 0.0
        return time.monotonic() - self.last


def _tracking(app: Any, activity: Activity) -> Any:
    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == CLIENT_PID_HEADER.encode() and value.isdigit():
                activity.clients.add(int(value))
        activity.in_flight += 1
        try:
            await app(scope, receive, send)
        finally:
            activity.in_flight -= 1
            activity.last = time.monotonic()

    return wrapped


def _take_lock(paths: ServicePaths) -> int | None:
    fd = os.open(paths.lock, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() > deadline:
                os.close(fd)
                return None
            time.sleep(0.1)


def _bind(path: str) -> socket.socket:
    with suppress(FileNotFoundError):
        os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        sock.bind(path)
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    sock.listen(256)
    return sock


def run_service(settings: Settings) -> int:
    """Serve until idle; 0 when it stopped normally or another service already runs."""
    import uvicorn
    from mcp.server.transport_security import TransportSecuritySettings

    from codeloci.server import build_server

    # Writable whatever the starter was: read-only is each session's own setting.
    settings = replace(settings, read_only=False)
    paths = ServicePaths.for_settings(settings)
    paths.prepare()
    lock = _take_lock(paths)
    if lock is None:
        log.info("another codeloci service holds %s; not starting a second one", paths.lock)
        return 0
    activity = Activity()

    def on_core(core: Core) -> None:
        activity.core = core

    server = build_server(settings, shared=True, on_core=on_core)
    # Only this user can reach the socket (0600 in a 0700 directory), and no browser can
    # reach a unix socket: the DNS-rebinding checks for TCP do not apply.
    app = server.streamable_http_app(
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        # a session forwards what its stdin admits (MAX_MESSAGE_BYTES), the JSON-RPC line whole
        max_request_body_size=MAX_MESSAGE_BYTES + 1,
    )
    sock = _bind(str(paths.socket))
    config = uvicorn.Config(
        _tracking(app, activity), log_config=None, log_level="warning", lifespan="on"
    )
    web = uvicorn.Server(config)
    idle = settings.service_idle_seconds

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(web.serve, [sock])
            while not web.started and not web.should_exit:
                await anyio.sleep(0.01)
            paths.pid_file.write_text(f"{os.getpid()} {__version__} {code_key(settings)}\n")
            log.info(
                "codeloci service %s (pid %d) on %s; stops after %.0f s idle",
                __version__,
                os.getpid(),
                paths.socket,
                idle,
            )
            while not web.should_exit:
                await anyio.sleep(IDLE_CHECK_SECONDS)
                if activity.idle_for() >= idle:
                    log.info("idle for %.0f s: stopping", idle)
                    web.should_exit = True

    signal.signal(signal.SIGTERM, lambda *_: setattr(web, "should_exit", True))
    try:
        anyio.run(main)
    finally:
        with suppress(OSError):
            if paths.read_pid() == os.getpid():
                paths.pid_file.unlink()
        with suppress(OSError):
            os.unlink(paths.socket)
        os.close(lock)
    log.info("codeloci service stopped")
    return 0
