"""``codeloci serve`` (stdio) as a thin session of the per-user service.

A pump between the client's stdio and one connection to the service (the wire of
:mod:`codeloci.service.client`: a hello line with this session's settings, then the MCP
conversation line for line). Client lines go to the service as they are; a reader thread writes
the service's lines (answers, progress) to stdout as they arrive.

* ``initialize`` and ``tools/list`` are answered from the handshake cache
  (:mod:`codeloci.handshake`) when it has them, while the real handshake with the service (and,
  the first time, the service's start) goes on behind; the service's own answers refresh the
  cache. ``ping`` is answered here.
* When the service is gone (stopped idle, killed), the requests it had not answered get an
  error saying they may or may not have taken effect (never run twice), and the next message
  starts the service again on a new connection, opened with the client's own ``initialize``.
* Lines over ``MAX_MESSAGE_BYTES`` are discarded unread and answered with an error.
"""

from __future__ import annotations

import json
import logging
import select
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any, BinaryIO

from codeloci.config import Settings
from codeloci.handshake import HandshakeCache, cache_key
from codeloci.service.client import ServiceError, connect, ensure_service, hello_line
from codeloci.service.paths import UnsafeServiceDir
from codeloci.stdio_limits import MAX_MESSAGE_BYTES, oversized_call

__all__ = ["SessionProxy"]

log = logging.getLogger(__name__)

_INTERNAL_ERROR = -32603
_PARSE_ERROR = -32700
#: Ids of requests the proxy itself sends (their answers are not the client's).
_OWN = "codeloci-"
#: Seconds the proxy waits, once its input ended, for answers still due.
DRAIN_SECONDS = 30.0
#: What a request the service never answered gets.
LOST = (
    "the codeloci service stopped while handling this request, so it may or may not have taken "
    "effect; the next call starts the service again: check (e.g. memory_list) and call again"
)


def _alive(sock: socket.socket) -> bool:
    """Whether the service's end of ``sock`` is still open (a killed service's is not)."""
    poller = select.poll()
    poller.register(sock, select.POLLRDHUP | select.POLLHUP | select.POLLERR)
    return not poller.poll(0)


class SessionProxy:
    def __init__(
        self,
        settings: Settings,
        stdin: BinaryIO,
        stdout: BinaryIO,
        *,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
    ) -> None:
        self.settings = settings
        self._in = stdin
        self._out = stdout
        self._max = max_message_bytes
        self._out_lock = threading.Lock()
        self._state = threading.Lock()
        self._sock: socket.socket | None = None
        #: the client's requests sent on the current connection and not answered yet
        self._pending: dict[Any, str] = {}
        self._init: dict[str, Any] | None = None
        self._client_name: str | None = None
        self._own = iter(range(1 << 62))
        self._pump_thread: threading.Thread | None = None
        self.cache = HandshakeCache(
            settings.data_dir / "handshake",
            cache_key(settings.read_only, settings.rust_server, settings.results),
            writable=not settings.read_only,
        )

    # ------------------------------------------------------------------ output

    def _write(self, data: bytes) -> None:
        with self._out_lock:
            try:
                self._out.write(data if data.endswith(b"\n") else data + b"\n")
                self._out.flush()
            except OSError:  # the client is gone
                pass

    def _reply(self, ident: Any, result: Any) -> None:
        self._write(json.dumps({"jsonrpc": "2.0", "id": ident, "result": result}).encode())

    def _fail(self, ident: Any, method: str | None, message: str) -> None:
        """Answer a request the service could not: a tool call with a tool error (what the
        model reads), anything else with a JSON-RPC error."""
        if method == "tools/call":
            self._reply(ident, {"content": [{"type": "text", "text": message}], "isError": True})
        else:
            error = {"code": _INTERNAL_ERROR, "message": message}
            self._write(json.dumps({"jsonrpc": "2.0", "id": ident, "error": error}).encode())

    # ------------------------------------------------------------------ input

    def _lines(self) -> Iterator[bytes]:
        """Complete lines of stdin, each at most ``max`` bytes (longer ones become the error
        call :func:`oversized_call` makes of them, as in-process serving does)."""
        while True:
            line = self._in.readline(self._max + 1)
            if not line:
                return
            if len(line) > self._max and not line.endswith(b"\n"):
                head, size = line[:4096], len(line)
                while True:  # skip the rest of the oversized line
                    more = self._in.readline(1 << 20)
                    size += len(more)
                    if not more or more.endswith(b"\n"):
                        break
                replacement = oversized_call(head, size - 1, self._max)
                if replacement is not None:
                    yield replacement.encode()
                continue
            yield line if line.endswith(b"\n") else line + b"\n"

    def run(self) -> int:
        for line in self._lines():
            if not line.strip():
                continue
            try:
                message = json.loads(line)
            except ValueError as exc:
                error = {"code": _PARSE_ERROR, "message": f"Parse error: {exc}"}
                self._write(json.dumps({"jsonrpc": "2.0", "id": None, "error": error}).encode())
                continue
            method = message.get("method") if isinstance(message, dict) else None
            ident = message.get("id") if isinstance(message, dict) else None
            if method == "initialize" and ident is not None:
                self._initialize(message, line)
            elif method == "notifications/initialized" and self._init is not None:
                self._send(line, None, None)
            elif method == "ping" and ident is not None:
                self._reply(ident, {})
            elif method == "tools/list" and ident is not None and self._from_cache(message):
                continue
            else:
                self._send(line, ident, method)
        self._close()
        return 0

    # ------------------------------------------------------------------ the connection

    def _slot(self, method: str, params: Any) -> str:
        if method == "initialize":
            version = params.get("protocolVersion") if isinstance(params, dict) else None
            return f"initialize:{version}"
        return f"{method}:{self._client_name}"

    def _initialize(self, message: dict[str, Any], line: bytes) -> None:
        params = message.get("params")
        info = params.get("clientInfo") if isinstance(params, dict) else None
        self._client_name = str(info.get("name")) if isinstance(info, dict) else None
        self._init = message
        cached = self.cache.get(self._slot("initialize", params))
        if cached is None:
            self._send(line, message["id"], "initialize")  # the service answers it
            return
        self._reply(message["id"], cached)
        log.info("answered initialize from the handshake cache while the service connects")
        try:
            self._connected()  # opens the real session behind the cached answer
        except ServiceError as exc:
            log.warning("codeloci service unavailable: %s", exc)

    def _from_cache(self, message: dict[str, Any]) -> bool:
        cached = self.cache.get(self._slot("tools/list", None))
        if cached is None or message.get("params"):
            return False
        self._reply(message["id"], cached)
        log.info("answered tools/list from the handshake cache")
        refresh = dict(message, id=f"{_OWN}tools-{next(self._own)}")
        self._send(json.dumps(refresh).encode() + b"\n", refresh["id"], "tools/list")
        return True

    def _connected(self) -> socket.socket:
        """The live connection, or a new one (starting the service when none runs) opened
        with the client's own ``initialize`` when the session had one."""
        with self._state:
            if self._sock is not None and _alive(self._sock):
                return self._sock
            try:
                paths = ensure_service(self.settings)
            except (UnsafeServiceDir, OSError) as exc:
                raise ServiceError(f"cannot start the codeloci service: {exc}") from None
            sock = connect(paths)
            try:
                sock.sendall(hello_line(self.settings))
            except OSError as exc:
                sock.close()
                raise ServiceError(f"the codeloci service closed the connection: {exc}") from None
            if self._init is not None:
                own = f"{_OWN}init-{next(self._own)}"
                self._pending[own] = "initialize"
                sock.sendall(json.dumps(dict(self._init, id=own)).encode() + b"\n")
                initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
                sock.sendall(json.dumps(initialized).encode() + b"\n")
            if self._sock is not None:  # dead: its pump answers what it left unanswered
                stale, self._sock = self._sock, None
                self._orphans(stale)
            self._sock = sock
            self._pump_thread = threading.Thread(target=self._pump, args=(sock,), daemon=True)
            self._pump_thread.start()
            return sock

    def _send(self, line: bytes, ident: Any, method: str | None) -> None:
        """Send one client line, connecting first when needed. A line that could not be sent
        is sent once more on a new connection (a dead peer read none of it)."""
        for attempt in (1, 2):
            try:
                sock = self._connected()
            except ServiceError as exc:
                if ident is not None and not str(ident).startswith(_OWN):
                    self._fail(ident, method, f"codeloci service unavailable: {exc}")
                return
            if ident is not None and method is not None:
                with self._state:
                    self._pending[ident] = method
            try:
                sock.sendall(line)
                return
            except OSError as exc:
                log.warning("lost the codeloci service: %s", exc)
                with self._state:
                    self._pending.pop(ident, None)
                self._lost(sock)
                if attempt == 2 and ident is not None and not str(ident).startswith(_OWN):
                    self._fail(ident, method, LOST)

    def _pump(self, sock: socket.socket) -> None:
        """The service's lines to stdout until the connection ends."""
        reader = sock.makefile("rb")
        try:
            for line in reader:
                self._from_service(line)
        except OSError as exc:
            log.warning("lost the codeloci service: %s", exc)
        finally:
            self._lost(sock)

    def _from_service(self, line: bytes) -> None:
        if b'"id"' not in line or not self._pending:
            self._write(line)
            return
        try:
            message = json.loads(line)
        except ValueError:
            self._write(line)
            return
        ident = message.get("id") if isinstance(message, dict) else None
        if ident is None or "method" in message:
            self._write(line)
            return
        with self._state:
            method = self._pending.pop(ident, None)
        result = message.get("result")
        if method in ("initialize", "tools/list") and isinstance(result, dict):
            params = self._init.get("params") if method == "initialize" and self._init else None
            self.cache.put(self._slot(method, params), result)
        if str(ident).startswith(_OWN):
            return  # the proxy's own request: the client got its answer already
        self._write(line)

    def _lost(self, sock: socket.socket) -> None:
        """The connection ended: forget it, and answer what it left unanswered."""
        with self._state:
            if self._sock is not sock:
                return
            self._sock = None
        self._orphans(sock)

    def _orphans(self, sock: socket.socket) -> None:
        """Answer the requests a dead connection left unanswered (called with or without the
        state lock held by the caller's thread; it takes none)."""
        pending, self._pending = self._pending, {}
        try:
            sock.close()
        except OSError:
            pass
        for ident, method in pending.items():
            if not str(ident).startswith(_OWN):
                self._fail(ident, method, LOST)

    def _close(self) -> None:
        """Input ended: the service sees the end of the session once the requests in flight
        are answered (writes always finish), then the connection closes."""
        sock, pump = self._sock, self._pump_thread
        if sock is None or pump is None:
            return
        deadline = time.monotonic() + DRAIN_SECONDS
        while self._pending and self._sock is sock and time.monotonic() < deadline:
            time.sleep(0.01)
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        pump.join(5.0)
        with self._state:
            self._sock = None
        sock.close()
