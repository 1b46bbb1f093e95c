"""The MCP handshake of ``codeloci serve`` (stdio) answered before the server has loaded.

Importing the MCP SDK, the store engine and the embedder's runtime takes most of a second, and
a client waits for ``initialize`` and ``tools/list`` before its first model request. So the
stdio server starts in two phases:

1. **early**: this module, which imports next to nothing, reads the client's first messages
   and answers ``initialize``, ``ping`` and ``tools/list`` from a cache of the full server's own
   earlier answers, while another thread imports and builds the server;
2. **server**: once a message needs the server (a tool call, an unknown method, the end of
   input) the full server takes over. It is handed every message the client sent, in order,
   so its session state is exactly as if it had read them itself; its replies to the requests
   the early phase already answered are dropped, and they refresh the cache.

The cache lives in ``<data dir>/handshake/`` under a key of everything the answers depend on
(codeloci's version and source files, the Rust server binary, read-only, the results mode),
so a changed install never gets an old answer; the first start after a change loads fully
before it answers. A read-only server reads the cache but never writes it.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Callable
from pathlib import Path
from typing import Any, BinaryIO

__all__ = [
    "EARLY_LINE_BYTES",
    "EarlyHandshake",
    "HandshakeCache",
    "ReplayedStdin",
    "ReplyFilter",
    "cache_key",
    "learning",
]

log = logging.getLogger(__name__)

#: Longest message the early phase reads; a longer one is handed to the server phase, whose
#: reader enforces MAX_MESSAGE_BYTES with its error.
EARLY_LINE_BYTES = 1 << 20
#: Methods the early phase answers from the cache.
CACHED = ("initialize", "tools/list")


def cache_key(read_only: bool, rust_server: list[str] | None, results: str) -> str:
    """A digest of everything the cached answers depend on (besides the client's name and
    protocol version, which pick the slot)."""
    h = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for path in sorted(package.rglob("*.py")):
        st = path.stat()
        h.update(f"{path.relative_to(package)}:{st.st_mtime_ns}:{st.st_size}\n".encode())
    h.update(f"read_only={read_only} results={results}\n".encode())
    for part in rust_server or []:
        h.update(f"rust:{part}\n".encode())
    if rust_server:
        try:
            st = Path(rust_server[0]).stat()
            h.update(f"{st.st_mtime_ns}:{st.st_size}\n".encode())
        except OSError:
            pass
    return h.hexdigest()[:32]


class HandshakeCache:
    """The full server's answers to ``initialize`` (by requested protocol version) and to
    ``tools/list`` (by client name), in one JSON file."""

    def __init__(self, directory: Path, key: str, *, writable: bool) -> None:
        self.path = directory / f"{key}.json"
        self.writable = writable
        try:
            data = json.loads(self.path.read_text())
            self.data: dict[str, Any] = data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            self.data = {}

    def get(self, slot: str) -> Any:
        return self.data.get(slot)

    def put(self, slot: str, result: Any) -> None:
        old = self.data.get(slot)
        if old == result:
            return
        if slot.startswith("tools/list") and _tool_count(result) < _tool_count(old):
            # A list missing tools (the Rust child down at that moment) is not kept: the next
            # start would advertise fewer tools than it has.
            return
        self.data[slot] = result
        if not self.writable:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
            with os.fdopen(fd, "w") as f:
                json.dump(self.data, f)
            os.replace(tmp, self.path)
        except OSError as exc:  # a cache: never fatal
            log.debug("handshake cache not written: %s", exc)


def _tool_count(result: Any) -> int:
    tools = result.get("tools") if isinstance(result, dict) else None
    return len(tools) if isinstance(tools, list) else 0


class EarlyHandshake:
    """Phase 1: answer what the cache can while ``ready()`` is false."""

    def __init__(self, stdin: io.BufferedIOBase, stdout: BinaryIO, cache: HandshakeCache) -> None:
        self._in = stdin
        self._out = stdout
        self.cache = cache
        #: every raw line read, in order: the server phase reads them first
        self.read: list[bytes] = []
        #: request id -> cache slot, for the requests answered here
        self.answered: dict[Any, str] = {}
        #: request id -> cache slot, for cacheable requests left to the server
        self.to_learn: dict[Any, str] = {}
        #: the client's name from ``initialize`` (the tool list depends on it: see
        #: ``codeloci.server.TEXT_CLIENTS``)
        self.client: str | None = None

    def slot(self, method: str, params: Any) -> str:
        """Where an answer is cached: ``initialize`` by requested protocol version (noting the
        client's name), ``tools/list`` by client name."""
        if method == "initialize":
            info = params.get("clientInfo") if isinstance(params, dict) else None
            self.client = str(info.get("name")) if isinstance(info, dict) else None
            version = params.get("protocolVersion") if isinstance(params, dict) else None
            return f"initialize:{version}"
        return f"{method}:{self.client}"

    def serve(self, ready: Callable[[], bool]) -> None:
        """Read and answer until a message needs the server, the server is ready (checked
        between messages) or input ends."""
        initialized = False
        while not ready():
            line = self._in.readline(EARLY_LINE_BYTES)
            if not line:
                return
            self.read.append(line)
            if not line.endswith(b"\n"):
                return  # longer than the early phase reads: the server's reader decides
            try:
                message = json.loads(line)
            except ValueError:
                return
            if not isinstance(message, dict):
                return
            method, ident = message.get("method"), message.get("id")
            if method == "notifications/initialized" and ident is None:
                continue
            if ident is None or not isinstance(method, str):
                return
            if method == "ping":
                self._reply(ident, {}, None)
                continue
            if method not in CACHED or (method == "tools/list" and not initialized):
                return
            slot = self.slot(method, message.get("params"))
            result = self.cache.get(slot)
            if result is None:
                self.to_learn[ident] = slot
                return
            self._reply(ident, result, slot)
            log.info("answered %s from the handshake cache while the server loads", method)
            initialized = initialized or method == "initialize"

    def _reply(self, ident: Any, result: Any, slot: str | None) -> None:
        self._out.write(json.dumps({"jsonrpc": "2.0", "id": ident, "result": result}).encode())
        self._out.write(b"\n")
        self._out.flush()
        self.answered[ident] = slot or "ping"


class ReplayedStdin(io.RawIOBase):
    """Phase 2's stdin: the bytes phase 1 read, then the rest of the real stdin."""

    def __init__(self, prefix: bytes, rest: io.BufferedIOBase) -> None:
        self._prefix = prefix
        self._rest = rest

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._prefix:
            n = len(self._prefix) if size < 0 else size
            out, self._prefix = self._prefix[:n], self._prefix[n:]
            return out
        # read1: what is there (at most one read of the pipe), never waiting for ``size``
        return self._rest.read1(size)


async def learning(lines: AsyncIterable[str], early: EarlyHandshake) -> AsyncIterator[str]:
    """Phase 2's incoming lines, noting the ids of cacheable requests (so their answers are
    cached)."""
    async for line in lines:
        if '"initialize"' in line or '"tools/list"' in line:
            try:
                message = json.loads(line)
            except ValueError:
                message = None
            if isinstance(message, dict) and message.get("method") in CACHED:
                slot = early.slot(message["method"], message.get("params"))
                early.to_learn[message.get("id")] = slot
        yield line


class ReplyFilter:
    """Phase 2's stdout: drops the server's replies to requests phase 1 answered and caches
    them (they refresh the cache), caches its answers to other cacheable requests, and
    passes everything else through."""

    def __init__(self, out: Any, early: EarlyHandshake) -> None:
        self._out = out
        self._answered = early.answered
        self._learn = early.to_learn
        self._cache = early.cache

    async def write(self, text: str) -> None:
        if self._answered or self._learn:
            try:
                message = json.loads(text)
            except ValueError:
                message = None
            if isinstance(message, dict) and "id" in message and "method" not in message:
                ident, result = message["id"], message.get("result")
                slot = self._answered.pop(ident, None)
                if slot is not None:
                    if slot != "ping" and result is not None:
                        self._cache.put(slot, result)
                    return
                slot = self._learn.pop(ident, None)
                if slot is not None and result is not None:
                    self._cache.put(slot, result)
        await self._out.write(text)

    async def flush(self) -> None:
        await self._out.flush()
