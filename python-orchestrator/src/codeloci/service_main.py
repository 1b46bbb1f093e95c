"""The service process (``codeloci service run``, see :mod:`codeloci.service`): our MCP server
on a unix socket, one :class:`~codeloci.app.Core` for every session. It sits beside the
``service`` package, not in it: the package's session side must not import the server.

Each connection is one session: its hello line (:func:`codeloci.service.client.hello_line`)
gives the session's settings, and the rest is served exactly as ``codeloci serve --no-service``
serves stdio (the same server, handlers and stdio framing), with that session's
:class:`~codeloci.app.AppContext` over the shared core.

It holds ``service.lock`` for its whole life (so a second service for the same data directory
cannot run), listens on a socket it creates 0600 inside the private service directory, writes
its pid file, and stops once idle: no session connected and no index run or background
embedding for ``CODELOCI_SERVICE_IDLE`` seconds. Stopping (idle, SIGTERM) closes the store
cleanly; a ``kill -9`` loses nothing acknowledged (every write is answered only once stored)
and the next session starts a new service.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import signal
import time
from contextlib import suppress
from dataclasses import replace
from typing import Any

import anyio
import anyio.abc

from codeloci import __version__
from codeloci.app import AppContext, Core, core_context
from codeloci.config import Settings
from codeloci.service.client import HELLO, code_key
from codeloci.service.paths import ServicePaths
from codeloci.stdio_limits import MAX_MESSAGE_BYTES

__all__ = ["run_service"]

log = logging.getLogger(__name__)

#: Seconds between idleness checks.
IDLE_CHECK_SECONDS = 1.0
#: How long a new service waits for an old one (still shutting down) to release the lock.
LOCK_WAIT_SECONDS = 15.0
#: Longest line the service reads: a session forwards at most MAX_MESSAGE_BYTES per message.
MAX_LINE_BYTES = MAX_MESSAGE_BYTES + 1024
_READ = 64 * 1024


class _Lines:
    """The text lines of a socket stream, each at most :data:`MAX_LINE_BYTES` (a longer one
    ends the connection: a session never sends one)."""

    def __init__(self, stream: anyio.abc.ByteStream, first: bytes) -> None:
        self._stream = stream
        self._buffer = bytearray(first)

    async def readline(self) -> bytes | None:
        while True:
            newline = self._buffer.find(b"\n")
            if newline >= 0:
                line = bytes(self._buffer[: newline + 1])
                del self._buffer[: newline + 1]
                return line
            if len(self._buffer) > MAX_LINE_BYTES:
                log.warning("a session sent a line over %d bytes: closing it", MAX_LINE_BYTES)
                return None
            try:
                self._buffer += await self._stream.receive(_READ)
            except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
                if self._buffer:
                    line, self._buffer = bytes(self._buffer), bytearray()
                    return line
                return None

    async def __aiter__(self) -> Any:
        while (line := await self.readline()) is not None:
            yield line.decode("utf-8", errors="replace")


class _Writer:
    def __init__(self, stream: anyio.abc.ByteStream) -> None:
        self._stream = stream

    async def write(self, text: str) -> None:
        with suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
            await self._stream.send(text.encode("utf-8"))

    async def flush(self) -> None:
        return None


class _Service:
    def __init__(self, settings: Settings, core: Core, server: Any) -> None:
        self.settings = settings
        self.core = core
        self.server = server
        self.sessions = 0
        self.last = time.monotonic()

    def idle_for(self) -> float:
        if self.sessions or self.core.busy:
            self.last = time.monotonic()
            return 0.0
        return time.monotonic() - self.last

    async def session(self, stream: anyio.abc.ByteStream) -> None:
        from mcp.server.runner import serve_loop
        from mcp.server.stdio import stdio_server

        try:
            lines = _Lines(stream, b"")
            first = await lines.readline()
            if not first:
                return  # a probe (is the service up?) connects and closes: not activity
            try:
                hello = json.loads(first)
                settings = self.settings.with_session(hello[HELLO])
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("refused a connection without a valid hello line: %s", exc)
                return
            self.sessions += 1
            try:
                app = await AppContext.create(settings, self.core)
                self.core.spawn(app.background)
                writer = _Writer(stream)
                async with stdio_server(stdin=lines, stdout=writer) as (read, write):  # type: ignore[arg-type]
                    await serve_loop(
                        self.server,
                        read,
                        write,
                        lifespan_state=app,
                        init_options=self.server.create_initialization_options(),
                    )
            finally:
                self.sessions -= 1
                self.last = time.monotonic()
        except Exception:
            log.exception("a session ended with an error")
        finally:
            with suppress(Exception):
                await stream.aclose()


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


def run_service(settings: Settings) -> int:
    """Serve until idle or SIGTERM; 0 when it stopped normally or another service runs."""
    from codeloci.server import build_server

    # Writable whatever the starter was: read-only is each session's own setting.
    settings = replace(settings, read_only=False, index_on_start=False, watch=False)
    paths = ServicePaths.for_settings(settings)
    paths.prepare()
    lock = _take_lock(paths)
    if lock is None:
        log.info("another codeloci service holds %s; not starting a second one", paths.lock)
        return 0
    server = build_server(settings)
    idle = settings.service_idle_seconds
    stop = anyio.Event()

    async def main() -> None:
        async with core_context(settings) as core:
            service = _Service(settings, core, server)
            with suppress(FileNotFoundError):
                os.unlink(paths.socket)
            # 0600, in a 0700 directory: only this user reaches it
            unix = await anyio.create_unix_listener(paths.socket, mode=0o600)
            paths.pid_file.write_text(f"{os.getpid()} {__version__} {code_key(settings)}\n")
            log.info(
                "codeloci service %s (pid %d) on %s; stops after %.0f s idle",
                __version__,
                os.getpid(),
                paths.socket,
                idle,
            )
            async with anyio.create_task_group() as tg:
                tg.start_soon(unix.serve, service.session, tg)

                async def on_signal() -> None:
                    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                        async for _ in signals:
                            stop.set()
                            return

                tg.start_soon(on_signal)
                while not stop.is_set():
                    with anyio.move_on_after(IDLE_CHECK_SECONDS):
                        await stop.wait()
                    if service.idle_for() >= idle:
                        log.info("idle for %.0f s: stopping", idle)
                        break
                tg.cancel_scope.cancel()
            await unix.aclose()

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
