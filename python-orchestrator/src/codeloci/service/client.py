"""Talking to the service: its wire, a small MCP client on its unix socket, and starting the
service when none runs.

The wire is MCP's stdio framing on a unix socket: one connection per session, newline-delimited
JSON-RPC both ways, exactly what ``codeloci serve`` reads and writes on stdio. The first line a
session sends is a hello (:func:`hello_line`: the session's settings and its pid); everything
after it is the client's MCP conversation, answered by the service's MCP server as if over stdio
(progress and cancellation included). It uses the standard library only, so a session starts
in a few tens of milliseconds.

:func:`ensure_service` starts the service detached (its own session, output to its log file)
under an exclusive lock, so of several concurrent starters exactly one spawns it and the others
wait for its socket; the service itself also holds a lock for its whole life, so a second one
can never run.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from codeloci.config import Settings, service_environment
from codeloci.handshake import cache_key
from codeloci.service.paths import ServicePaths

__all__ = [
    "HELLO",
    "START_TIMEOUT_SECONDS",
    "ServiceClient",
    "ServiceError",
    "ServiceLost",
    "ServiceUnavailable",
    "code_key",
    "connect",
    "ensure_service",
    "hello_line",
    "service_running",
    "stop_service",
]

log = logging.getLogger(__name__)

#: The key of a session's first line.
HELLO = "codeloci-session"
#: How long a starter waits for a new service's socket.
START_TIMEOUT_SECONDS = 60.0
#: How long a starter waits for a service running other code to stop.
STOP_WAIT_SECONDS = 60.0
#: Log files beyond this size are moved aside (``service.log.1``) when a service starts.
MAX_LOG_BYTES = 10 * 1024 * 1024


class ServiceError(RuntimeError):
    """Base of the client's errors."""


class ServiceUnavailable(ServiceError):
    """No service answers on the socket (nothing was sent)."""


class ServiceLost(ServiceError):
    """The connection broke after a request was sent: it may or may not have run."""


def connect(paths: ServicePaths, timeout: float | None = None) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(paths.socket))
    except OSError as exc:
        sock.close()
        raise ServiceUnavailable(
            f"no codeloci service at {paths.socket}: {exc.strerror or exc}"
        ) from None
    return sock


def service_running(paths: ServicePaths) -> bool:
    try:
        connect(paths, 2.0).close()
        return True
    except ServiceUnavailable:
        return False


def hello_line(settings: Settings) -> bytes:
    """A session's first line: its settings (``Settings.session_fields``) and its pid."""
    hello = {HELLO: settings.session_fields(), "pid": os.getpid()}
    return json.dumps(hello, ensure_ascii=True).encode() + b"\n"


@dataclass
class ServiceClient:
    """One MCP session with the service, for a CLI command: requests one at a time."""

    paths: ServicePaths
    settings: Settings
    timeout: float | None = None
    _sock: socket.socket | None = None
    _reader: Any = None
    _ids: Any = field(default_factory=lambda: iter(range(1, 1 << 62)))

    def _open(self) -> None:
        self._sock = connect(self.paths, self.timeout)
        self._reader = self._sock.makefile("rb")
        self._sock.sendall(hello_line(self.settings))

    def _send(self, message: dict[str, Any]) -> None:
        if self._sock is None:
            self._open()
        assert self._sock is not None
        try:
            self._sock.sendall(json.dumps(message).encode() + b"\n")
        except OSError as exc:
            raise ServiceLost(f"the codeloci service closed the connection: {exc}") from None

    def request(
        self, method: str, params: dict[str, Any], on_message: Callable[[Any], None] | None = None
    ) -> dict[str, Any]:
        """Send a request; other messages before its answer (progress) go to ``on_message``."""
        ident = next(self._ids)
        self._send({"jsonrpc": "2.0", "id": ident, "method": method, "params": params})
        while True:
            line = self._reader.readline()
            if not line:
                raise ServiceLost(f"the codeloci service stopped before answering {method}")
            message = json.loads(line)
            if isinstance(message, dict) and message.get("id") == ident and "method" not in message:
                if "error" in message:
                    error = message["error"]
                    raise ServiceError(f"{method} failed: {error.get('message', error)}")
                result = message.get("result")
                return result if isinstance(result, dict) else {}
            if on_message is not None:
                on_message(message)

    def initialize(self, client_name: str) -> dict[str, Any]:
        """The MCP handshake; returns the ``initialize`` result."""
        from codeloci import __version__

        params = {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": client_name, "version": __version__},
        }
        result = self.request("initialize", params)
        self._send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return result

    def call_tool(
        self,
        name: str,
        arguments: dict[str, Any],
        on_progress: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """A tool's ``structuredContent``; :class:`ServiceError` with the tool's message when it
        answers an error."""
        params: dict[str, Any] = {"name": name, "arguments": arguments}
        if on_progress is not None:
            params["_meta"] = {"progressToken": f"cli-{os.getpid()}"}

        def on_message(message: Any) -> None:
            if (
                on_progress is not None
                and isinstance(message, dict)
                and message.get("method") == "notifications/progress"
            ):
                on_progress(message.get("params") or {})

        result = self.request("tools/call", params, on_message)
        if result.get("isError"):
            text = " ".join(str(c.get("text", "")) for c in result.get("content") or [])
            raise ServiceError(text or f"{name} failed")
        structured = result.get("structuredContent")
        if not isinstance(structured, dict):
            raise ServiceError(f"{name} returned no structured result")
        return structured

    def close_session(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def code_key(settings: Settings) -> str:
    """What the service's answers depend on: codeloci's source files and the Rust binary (the
    handshake cache's key). A session finding a service with another key (an upgrade, an edit
    in a checkout) replaces it."""
    return cache_key(False, settings.rust_server, "service")


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
    """Ask the running service to stop (SIGTERM: it finishes what it can and closes the store)
    and wait until it is gone; False when none was running, :class:`ServiceError` when it is
    still there after ``wait`` seconds."""
    pid = paths.read_pid()
    if pid is None or not service_running(paths):
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    raise ServiceError(f"the codeloci service (pid {pid}) did not stop within {wait:.0f} s")


def _replace_stale(paths: ServicePaths, settings: Settings) -> None:
    """Stop a running service built from other code."""
    key = paths.read_key()
    if key is None or key == code_key(settings):
        return
    log.info("the codeloci service (pid %s) runs other code: replacing it", paths.read_pid())
    try:
        stop_service(paths)
    except (ServiceError, PermissionError) as exc:
        log.warning("%s", exc)


def _rotate(path: os.PathLike[str] | str) -> None:
    try:
        if os.path.getsize(path) > MAX_LOG_BYTES:
            os.replace(path, f"{os.fspath(path)}.1")
    except OSError:
        pass


def _spawn(paths: ServicePaths, settings: Settings) -> subprocess.Popen[bytes]:
    _rotate(paths.log)
    command = [sys.executable, "-m", "codeloci", "service", "run"]
    command += ["--data-dir", str(settings.data_dir)]
    if settings.rust_server:
        command += ["--rust-server", shlex.join(settings.rust_server)]
    env = service_environment()
    with open(paths.log, "ab") as logfile:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=logfile,
            stderr=logfile,
            cwd=str(paths.directory),
            env=env,
            start_new_session=True,
        )


def ensure_service(settings: Settings, *, timeout: float = START_TIMEOUT_SECONDS) -> ServicePaths:
    """The service's paths, once it answers on its socket, starting it when none runs.

    Concurrent callers serialise on the start lock: the first spawns, the others find the
    socket answering. :class:`ServiceUnavailable` says why a start failed and where the log is.
    """
    paths = ServicePaths.for_settings(settings)
    if service_running(paths) and paths.read_key() in (None, code_key(settings)):
        return paths
    paths.prepare()
    with open(paths.start_lock, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _replace_stale(paths, settings)
        if service_running(paths):
            return paths
        log.info("starting the codeloci service (log: %s)", paths.log)
        process = _spawn(paths, settings)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if service_running(paths):
                # reap it when it exits (this process is its parent while it lives)
                threading.Thread(target=process.wait, name="codeloci-reap", daemon=True).start()
                return paths
            code = process.poll()
            if code is not None and not service_running(paths):
                raise ServiceUnavailable(
                    f"the codeloci service exited at start (code {code}); see {paths.log}"
                )
            time.sleep(0.02)
        raise ServiceUnavailable(
            f"the codeloci service did not open {paths.socket} within {timeout:.0f} s; "
            f"see {paths.log}"
        )
