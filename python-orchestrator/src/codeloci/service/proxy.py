"""``codeloci serve`` (stdio) as a thin session of the per-user service.

Every JSON-RPC line the client writes is posted to the service (one thread per request, so a
long ``index_repository`` never holds up a ``ping`` or a cancellation); every message of the
answer (progress, then the response) is written back as it arrives. Each request carries the
session's settings (project root, session id, results mode, gate, ...), so the service knows
the session even after it restarted.

* ``initialize`` and ``tools/list`` are answered from the handshake cache
  (:mod:`codeloci.handshake`) when it has them, while the real handshake with the service (and,
  the first time, the service's start) goes on behind; the service's own answers refresh the
  cache. ``ping`` is answered here.
* When the service is gone (stopped idle, killed) the next request starts it again and opens a
  new MCP session with the client's own ``initialize``; a request the service never received
  is sent again, one it may have run is answered with an error saying so (never run twice).
* Lines over ``MAX_MESSAGE_BYTES`` are discarded unread and answered with an error.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any, BinaryIO

from codeloci.config import Settings
from codeloci.handshake import HandshakeCache, cache_key
from codeloci.service.client import (
    ServiceClient,
    ServiceError,
    ServiceLost,
    ServiceUnavailable,
    SessionUnknown,
    ensure_service,
)
from codeloci.service.paths import ServicePaths, UnsafeServiceDir
from codeloci.stdio_limits import MAX_MESSAGE_BYTES, BoundedLines

__all__ = ["SessionProxy"]

log = logging.getLogger(__name__)

_INTERNAL_ERROR = -32603
_PARSE_ERROR = -32700
#: Seconds the proxy waits, once its input ended, for requests still running (writes finish).
DRAIN_SECONDS = 30.0


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
        self.paths = ServicePaths.for_settings(settings)
        self.client = ServiceClient(self.paths, settings)
        self._in = stdin
        self._out = stdout
        self._max = max_message_bytes
        self._out_lock = threading.Lock()
        self._session_lock = threading.Lock()
        self._init: dict[str, Any] | None = None
        self._opened: dict[str, Any] | None = None
        self._client_name: str | None = None
        self._threads: list[threading.Thread] = []
        self.cache = HandshakeCache(
            settings.data_dir / "handshake",
            cache_key(settings.read_only, settings.rust_server, settings.results),
            writable=not settings.read_only,
        )

    # ------------------------------------------------------------------ output

    def _write(self, message: Any) -> None:
        data = json.dumps(message).encode() + b"\n"
        with self._out_lock:
            self._out.write(data)
            self._out.flush()

    def _error(self, ident: Any, message: str, code: int = _INTERNAL_ERROR) -> None:
        self._write({"jsonrpc": "2.0", "id": ident, "error": {"code": code, "message": message}})

    def _failed(self, request: Any, message: str) -> None:
        """Answer a request the service could not: a tool call with a tool error (what the
        model reads), anything else with a JSON-RPC error."""
        if not isinstance(request, dict) or request.get("id") is None:
            return
        ident = request["id"]
        if str(ident).startswith("codeloci-"):
            return
        if request.get("method") == "tools/call":
            result = {"content": [{"type": "text", "text": message}], "isError": True}
            self._write({"jsonrpc": "2.0", "id": ident, "result": result})
        else:
            self._error(ident, message)

    # ------------------------------------------------------------------ input

    def _lines(self) -> Any:
        """Complete lines of stdin, each at most ``max`` bytes (longer ones become the error
        call :class:`BoundedLines` makes of them)."""
        bounded = BoundedLines(self._in, self._max)
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
                replacement = bounded._replacement(head, size - 1)
                if replacement is not None:
                    yield replacement.encode()
                continue
            yield line

    def run(self) -> int:
        for line in self._lines():
            if not line.strip():
                continue
            try:
                message = json.loads(line)
            except ValueError as exc:
                self._error(None, f"Parse error: {exc}", _PARSE_ERROR)
                continue
            if not isinstance(message, dict):
                self._spawn(message)
                continue
            method, ident = message.get("method"), message.get("id")
            if method == "initialize" and ident is not None:
                self._initialize(message)
            elif method == "notifications/initialized":
                continue  # the proxy sends its own when it opens a session with the service
            elif method == "ping" and ident is not None:
                self._write({"jsonrpc": "2.0", "id": ident, "result": {}})
            elif method == "tools/list" and ident is not None and self._from_cache(message):
                continue
            else:
                self._spawn(message)
        for thread in self._threads:
            thread.join(DRAIN_SECONDS)
        self.client.close_session()
        return 0

    # ------------------------------------------------------------------ the session

    def _slot(self, method: str, params: Any) -> str:
        if method == "initialize":
            version = params.get("protocolVersion") if isinstance(params, dict) else None
            return f"initialize:{version}"
        return f"{method}:{self._client_name}"

    def _initialize(self, message: dict[str, Any]) -> None:
        params = message.get("params")
        info = params.get("clientInfo") if isinstance(params, dict) else None
        self._client_name = str(info.get("name")) if isinstance(info, dict) else None
        self._init = message
        cached = self.cache.get(self._slot("initialize", params))
        if cached is not None:
            self._write({"jsonrpc": "2.0", "id": message["id"], "result": cached})
            log.info("answered initialize from the handshake cache while the service connects")
            self._spawn(None)  # open the real session behind the cached answer
            return
        try:
            result = self._open_session()
        except ServiceError as exc:
            self._error(message["id"], str(exc))
            return
        self._write({"jsonrpc": "2.0", "id": message["id"], "result": result})

    def _open_session(self) -> dict[str, Any]:
        """An MCP session with the service (started if needed) opened with the client's own
        ``initialize``; returns its result. Serialised: concurrent requests share one."""
        with self._session_lock:
            if self.client.session_id is not None and self._opened is not None:
                return self._opened
            assert self._init is not None
            try:
                ensure_service(self.settings)
            except (UnsafeServiceDir, OSError) as exc:
                raise ServiceUnavailable(f"cannot start the codeloci service: {exc}") from None
            request = dict(self._init, id="codeloci-session")
            result = self.client.call_raw(request)
            self.client.protocol_version = str(result.get("protocolVersion") or "") or None
            self.client.post({"jsonrpc": "2.0", "method": "notifications/initialized"}, _drop)
            self.cache.put(self._slot("initialize", self._init.get("params")), result)
            self._opened = result
            return result

    def _lose_session(self) -> None:
        with self._session_lock:
            self.client.session_id = None
            self._opened = None

    def _from_cache(self, message: dict[str, Any]) -> bool:
        cached = self.cache.get(self._slot("tools/list", message.get("params")))
        if cached is None or message.get("params"):
            return False
        self._write({"jsonrpc": "2.0", "id": message["id"], "result": cached})
        log.info("answered tools/list from the handshake cache")
        # refresh the cache from the service's own answer, dropped
        self._spawn(dict(message, id="codeloci-tools-list"))
        return True

    # ------------------------------------------------------------------ forwarding

    def _spawn(self, message: Any) -> None:
        self._threads = [t for t in self._threads if t.is_alive()]
        thread = threading.Thread(target=self._forward, args=(message,), daemon=True)
        self._threads.append(thread)
        thread.start()

    def _relay(self, request: Any) -> Any:
        internal = isinstance(request, dict) and str(request.get("id", "")).startswith("codeloci-")

        def relay(message: Any) -> None:
            if internal and isinstance(message, dict) and message.get("id") == request["id"]:
                if request.get("method") == "tools/list" and "result" in message:
                    slot = self._slot("tools/list", request.get("params"))
                    self.cache.put(slot, message["result"])
                return
            if (
                isinstance(request, dict)
                and request.get("method") == "tools/list"
                and isinstance(message, dict)
                and message.get("id") == request.get("id")
                and "result" in message
                and not request.get("params")
            ):
                self.cache.put(self._slot("tools/list", None), message["result"])
            self._write(message)

        return relay

    def _forward(self, message: Any) -> None:
        ident = message.get("id") if isinstance(message, dict) else None
        for attempt in (1, 2):
            try:
                if self._init is None:
                    if ident is not None:
                        self._error(ident, "the session is not initialized: send initialize first")
                    return
                self._open_session()
                if message is not None:
                    self.client.post(message, self._relay(message))
                return
            except (ServiceUnavailable, SessionUnknown) as exc:
                # nothing ran: open a new session (starting the service) and send it again
                self._lose_session()
                if attempt == 2:
                    log.warning("codeloci service unavailable: %s", exc)
                    self._failed(message, f"codeloci service unavailable: {exc}")
            except ServiceLost as exc:
                self._lose_session()
                log.warning("lost the codeloci service: %s", exc)
                self._failed(
                    message,
                    "the codeloci service stopped while handling this request, so it may or may "
                    "not have taken effect; the next call starts the service again: check (e.g. "
                    "memory_list) and call again",
                )
                return
            except ServiceError as exc:
                self._failed(message, str(exc))
                return


def _drop(_message: Any) -> None:
    return None
