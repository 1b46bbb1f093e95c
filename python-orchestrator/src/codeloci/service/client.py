"""Talking to the service: a small MCP-over-HTTP client on its unix socket, and starting the
service when none runs.

The client speaks exactly what the service's streamable HTTP transport expects: one JSON-RPC
message per ``POST /mcp``, the ``mcp-session-id`` the service assigned at ``initialize``, and
an answer that is either one JSON body or a ``text/event-stream`` whose events (progress, then
the response) are handed over as they arrive. It uses the standard library only, so a session
(``codeloci serve``) starts in a few tens of milliseconds.

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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from codeloci.config import Settings, service_environment
from codeloci.handshake import cache_key
from codeloci.service.paths import ServicePaths

__all__ = [
    "CLIENT_PID_HEADER",
    "SESSION_HEADER",
    "START_TIMEOUT_SECONDS",
    "ServiceClient",
    "ServiceError",
    "ServiceLost",
    "ServiceUnavailable",
    "ensure_service",
    "service_running",
]

log = logging.getLogger(__name__)

#: The session's settings (``Settings.session_fields``), ASCII JSON (``codeloci.server`` reads
#: it under the same name).
SESSION_HEADER = "x-codeloci-session"
#: The pid of the client process: the service stays up while any such process lives.
CLIENT_PID_HEADER = "x-codeloci-pid"
#: How long a starter waits for a new service's socket.
START_TIMEOUT_SECONDS = 60.0
#: How long a starter waits for a service running other code to stop.
STOP_WAIT_SECONDS = 60.0
#: Log files beyond this size are moved aside (``service.log.1``) when a service starts.
MAX_LOG_BYTES = 10 * 1024 * 1024
_PROTOCOL_HEADER = "mcp-protocol-version"
_SESSION_ID_HEADER = "mcp-session-id"


class ServiceError(RuntimeError):
    """Base of the client's errors."""


class ServiceUnavailable(ServiceError):
    """No service answers on the socket (nothing was sent)."""


class ServiceLost(ServiceError):
    """The connection broke after the request was sent: it may or may not have run."""


class SessionUnknown(ServiceError):
    """The service does not know our MCP session (it was restarted, or the session expired);
    nothing was run."""


def _connect(path: str, timeout: float | None) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
    except OSError as exc:
        sock.close()
        raise ServiceUnavailable(f"no codeloci service at {path}: {exc.strerror or exc}") from None
    return sock


def service_running(paths: ServicePaths) -> bool:
    try:
        _connect(str(paths.socket), 2.0).close()
        return True
    except ServiceUnavailable:
        return False


@dataclass
class _Response:
    status: int
    headers: dict[str, str]
    body: BinaryIO


def _read_head(stream: BinaryIO) -> tuple[int, dict[str, str]]:
    line = stream.readline(65536)
    if not line:
        raise ServiceLost("the codeloci service closed the connection without answering")
    parts = line.decode("latin-1").split(" ", 2)
    status = int(parts[1])
    headers: dict[str, str] = {}
    while True:
        line = stream.readline(65536)
        if line in (b"\r\n", b"\n", b""):
            return status, headers
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()


def _body_chunks(response: _Response) -> Iterator[bytes]:
    """The body as it arrives (chunked transfer encoding or a content length)."""
    stream = response.body
    if response.headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size_line = stream.readline(1024)
            if not size_line:
                raise ServiceLost("the codeloci service closed the connection mid-answer")
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                stream.readline(1024)
                return
            data = stream.read(size)
            stream.readline(1024)
            if len(data) < size:
                raise ServiceLost("the codeloci service closed the connection mid-answer")
            yield data
    elif "content-length" in response.headers:
        size = int(response.headers["content-length"])
        data = stream.read(size) if size else b""
        if len(data) < size:
            raise ServiceLost("the codeloci service closed the connection mid-answer")
        if data:
            yield data
    else:
        while data := stream.read1(65536):  # type: ignore[attr-defined]
            yield data


def _sse_messages(chunks: Iterator[bytes]) -> Iterator[Any]:
    """The JSON-RPC messages of an event stream, each as soon as its event is complete."""
    buffer = b""
    for chunk in chunks:
        buffer += chunk
        while True:
            end = min(
                (i for i in (buffer.find(b"\n\n"), buffer.find(b"\r\n\r\n")) if i >= 0),
                default=-1,
            )
            if end < 0:
                break
            event, buffer = buffer[:end], buffer[end:].lstrip(b"\r\n")
            data = [
                line[5:].lstrip(b" ")
                for line in event.replace(b"\r\n", b"\n").split(b"\n")
                if line.startswith(b"data:")
            ]
            if data and any(data):
                yield json.loads(b"\n".join(data))


@dataclass
class ServiceClient:
    """One MCP session with the service. Thread-safe for concurrent :meth:`post` calls."""

    paths: ServicePaths
    settings: Settings
    timeout: float | None = None
    session_id: str | None = None
    protocol_version: str | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)

    def _headers(self) -> dict[str, str]:
        headers = {
            "host": "localhost",
            "accept": "application/json, text/event-stream",
            SESSION_HEADER: json.dumps(self.settings.session_fields(), ensure_ascii=True),
            CLIENT_PID_HEADER: str(os.getpid()),
        }
        if self.session_id:
            headers[_SESSION_ID_HEADER] = self.session_id
        if self.protocol_version:
            headers[_PROTOCOL_HEADER] = self.protocol_version
        headers.update(self.extra_headers)
        return headers

    def _request(self, method: str, body: bytes) -> tuple[socket.socket, _Response]:
        sock = _connect(str(self.paths.socket), self.timeout)
        headers = self._headers()
        if body:
            headers["content-type"] = "application/json"
        headers["content-length"] = str(len(body))
        head = f"{method} /mcp HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        try:
            sock.sendall(head.encode("latin-1") + b"\r\n" + body)
            stream = sock.makefile("rb")
            status, response_headers = _read_head(stream)
        except (OSError, ValueError, IndexError) as exc:
            sock.close()
            raise ServiceLost(f"the codeloci service stopped answering: {exc}") from None
        except ServiceLost:
            sock.close()
            raise
        return sock, _Response(status, response_headers, stream)

    def post(self, message: dict[str, Any], on_message: Callable[[Any], None]) -> int:
        """Send one message; every message of the answer goes to ``on_message`` as it arrives.
        Returns the HTTP status. :class:`ServiceUnavailable` when nothing was sent,
        :class:`SessionUnknown` when the service does not know the session,
        :class:`ServiceLost` when the connection broke after sending."""
        body = json.dumps(message).encode()
        sock, response = self._request("POST", body)
        try:
            if response.status == 404 and self.session_id:
                raise SessionUnknown("the codeloci service does not know this session")
            if message.get("method") == "initialize" and response.status < 300:
                self.session_id = response.headers.get(_SESSION_ID_HEADER, self.session_id)
            ctype = response.headers.get("content-type", "")
            chunks = _body_chunks(response)
            if ctype.startswith("text/event-stream"):
                for item in _sse_messages(chunks):
                    on_message(item)
            else:
                data = b"".join(chunks)
                if data.strip():
                    on_message(json.loads(data))
            return response.status
        except (OSError, ValueError) as exc:
            raise ServiceLost(f"the codeloci service stopped mid-answer: {exc}") from None
        finally:
            sock.close()

    def close_session(self) -> None:
        """End the MCP session (``DELETE``); best effort."""
        if not self.session_id:
            return
        try:
            sock, _ = self._request("DELETE", b"")
            sock.close()
        except ServiceError:
            pass
        self.session_id = None

    # ------------------------------------------------------------ a whole client, for the CLI

    def initialize(self, client_name: str) -> dict[str, Any]:
        """The MCP handshake; returns the ``initialize`` result."""
        from codeloci import __version__

        request = {
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": client_name, "version": __version__},
            },
        }
        result = self.call_raw(request)
        self.protocol_version = str(result.get("protocolVersion") or "") or None
        self.post({"jsonrpc": "2.0", "method": "notifications/initialized"}, lambda _m: None)
        return result

    def call_raw(
        self, request: dict[str, Any], on_progress: Callable[[dict[str, Any]], None] | None = None
    ) -> dict[str, Any]:
        answer: dict[str, Any] = {}

        def take(message: Any) -> None:
            if not isinstance(message, dict):
                return
            if message.get("id") == request["id"] and "method" not in message:
                answer.update(message)
            elif message.get("method") == "notifications/progress" and on_progress is not None:
                on_progress(message.get("params") or {})

        status = self.post(request, take)
        if "error" in answer:
            error = answer["error"]
            raise ServiceError(f"{request['method']} failed: {error.get('message', error)}")
        if "result" not in answer:
            raise ServiceError(f"{request['method']}: the service answered HTTP {status}")
        result = answer["result"]
        return result if isinstance(result, dict) else {}

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
        request = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}
        result = self.call_raw(request, on_progress)
        if result.get("isError"):
            text = " ".join(str(c.get("text", "")) for c in result.get("content") or [])
            raise ServiceError(text or f"{name} failed")
        structured = result.get("structuredContent")
        if not isinstance(structured, dict):
            raise ServiceError(f"{name} returned no structured result")
        return structured


def code_key(settings: Settings) -> str:
    """What the service's answers depend on: codeloci's source files and the Rust binary (the
    handshake cache's key). A session finding a service with another key (an upgrade, an edit
    in a checkout) replaces it."""
    return cache_key(False, settings.rust_server, "service")


def _replace_stale(paths: ServicePaths, settings: Settings) -> None:
    """Stop a running service built from other code; it finishes the requests in flight."""
    key = paths.read_key()
    pid = paths.read_pid()
    if key is None or pid is None or key == code_key(settings):
        return
    log.info("the codeloci service (pid %d) runs other code: replacing it", pid)
    try:
        os.kill(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    deadline = time.monotonic() + STOP_WAIT_SECONDS
    while service_running(paths) and time.monotonic() < deadline:
        time.sleep(0.05)


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
