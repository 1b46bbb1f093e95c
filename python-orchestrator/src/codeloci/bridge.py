"""MCP client of the Rust server ``codeloci-ast`` over stdio.

One child process at a time, owned by a connection task inside the bridge's task group. The
child's stderr is inherited (it lands in our stderr/log, never on stdout). Calls forward
arguments, structured results and progress; cancelling a call cancels it in the child (the SDK
sends ``notifications/cancelled``).

If the child dies, the calls in flight fail with :class:`RustServerDied`; the next call starts a
new child after a back-off (``backoff_base * 2**n`` seconds, at most ``backoff_max``). After
``max_restarts`` restarts within ``restart_window`` seconds the bridge refuses calls with
:class:`RustServerUnavailable` until the window has passed. Nothing here blocks the memory
tools: a dead child only affects calls to its own tools.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TextIO, cast

import anyio
import mcp_types as types
from anyio.abc import Process, TaskGroup, TaskStatus
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.stdio import get_default_environment
from mcp.os.posix.utilities import terminate_posix_process_tree
from mcp.shared.dispatcher import ProgressFnT
from mcp.shared.exceptions import MCPError
from mcp.shared.message import SessionMessage

from codeloci import __version__
from codeloci.ast_types import ChunkResult, ScanResult
from codeloci.config import passthrough_env

__all__ = [
    "BridgeError",
    "RustBridge",
    "RustServerDied",
    "RustServerUnavailable",
    "ToolCallFailed",
]

log = logging.getLogger(__name__)


class BridgeError(RuntimeError):
    """Base of the bridge's errors; messages are shown to the MCP client as tool errors."""


class RustServerDied(BridgeError):
    """The child exited while a call was running."""


class RustServerUnavailable(BridgeError):
    """The child is missing or keeps failing; no call is attempted."""


class ToolCallFailed(BridgeError):
    """The child answered a call with an error result (or without a structured result)."""


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_describe(e) for e in exc.exceptions)
    if isinstance(exc, MCPError):
        return f"{exc.error.message} (code {exc.error.code})"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


#: Bytes asked for per read of the child's stdout.
_READ_SIZE = 1 << 20
#: Seconds the child gets to exit after its stdin closes, then again after SIGTERM.
_EXIT_GRACE = 2.0


def _parse_line(line: bytes) -> SessionMessage | Exception:
    """One JSON-RPC message. A successful reply is built without validating its ``result``,
    which stays a plain dict: the session checks it against the reply's type when the call
    went through ``send_request``, and :meth:`RustBridge.scan`/``chunk`` read their own
    (megabytes, whose shape the contract tests pin) as it came."""
    try:
        data = json.loads(line)
        if (
            isinstance(data, dict)
            and data.keys() == {"jsonrpc", "id", "result"}
            and data["jsonrpc"] == "2.0"
            and isinstance(data["id"], int | str)
            and isinstance(data["result"], dict)
        ):
            reply = types.JSONRPCResponse.model_construct(
                jsonrpc="2.0", id=data["id"], result=data["result"]
            )
            return SessionMessage(reply)
        return SessionMessage(types.jsonrpc_message_adapter.validate_python(data, by_name=False))
    except ValueError as exc:
        log.error("codeloci-ast wrote a line that is not a JSON-RPC message: %s", exc)
        return exc


async def _exited(process: Process, timeout: float) -> bool:
    with anyio.move_on_after(timeout):
        while process.returncode is None:
            await anyio.sleep(0.01)
    return process.returncode is not None


@asynccontextmanager
async def _stdio_child(
    params: StdioServerParameters, errlog: TextIO
) -> AsyncIterator[
    tuple[
        MemoryObjectReceiveStream[SessionMessage | Exception],
        MemoryObjectSendStream[SessionMessage],
    ]
]:
    """The SDK's ``stdio_client`` with a reader whose cost is linear in a line's length.

    The SDK's reader appends each read to the text buffered so far (``buffer + chunk``), so a
    reply of n bytes costs n²/read-size bytes copied: a ``chunk`` reply for a few hundred files
    is many megabytes, and that copying was most of an index run. Here a line's reads are
    joined once, as bytes, and parsed without decoding to ``str`` first. Same process
    handling as the SDK on POSIX: own session (so the child's whole group can be killed),
    stdin closed to ask it to exit, SIGTERM then SIGKILL when it does not."""
    process = await anyio.open_process(
        [params.command, *params.args],
        env=get_default_environment() | (params.env or {}),
        stderr=errlog,
        cwd=params.cwd,
        start_new_session=True,
    )
    to_session, read_stream = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    write_stream, from_session = anyio.create_memory_object_stream[SessionMessage](0)
    stdout, stdin = process.stdout, process.stdin
    assert stdout is not None and stdin is not None

    async def reader() -> None:
        parts: list[bytes] = []
        delivering = True
        async with to_session:
            # After the session is gone the rest is read and dropped: a child blocked
            # writing a large reply could not see its stdin close.
            with suppress(anyio.EndOfStream, anyio.ClosedResourceError, OSError):
                while True:
                    data = await stdout.receive(_READ_SIZE)
                    start = 0
                    while (end := data.find(b"\n", start)) >= 0:
                        parts.append(data[start:end])
                        line = b"".join(parts)
                        parts.clear()
                        start = end + 1
                        if delivering and line.strip():
                            try:
                                await to_session.send(_parse_line(line))
                            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                                delivering = False
                    if start < len(data):
                        parts.append(data[start:])

    async def writer() -> None:
        try:
            async with from_session:
                async for message in from_session:
                    text = message.message.model_dump_json(by_alias=True, exclude_unset=True)
                    await stdin.send(text.encode() + b"\n")
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            await to_session.aclose()

    async with anyio.create_task_group() as tg:
        tg.start_soon(reader)
        tg.start_soon(writer)
        try:
            yield read_stream, write_stream
        finally:
            with anyio.CancelScope(shield=True):
                read_stream.close()
                write_stream.close()
                with suppress(OSError, anyio.BrokenResourceError, anyio.ClosedResourceError):
                    await stdin.aclose()
                if not await _exited(process, _EXIT_GRACE):
                    await terminate_posix_process_tree(process, _EXIT_GRACE)
                    await _exited(process, _EXIT_GRACE)
                with suppress(OSError, anyio.BrokenResourceError, anyio.ClosedResourceError):
                    await stdout.aclose()
            tg.cancel_scope.cancel()


@dataclass
class _Connection:
    session: ClientSession
    tools: list[types.Tool]
    server_info: types.Implementation | None
    stop: anyio.Event = field(default_factory=anyio.Event)
    dead: bool = False


class RustBridge:
    """Use as ``async with RustBridge(...) as bridge``; the first start happens on entry."""

    def __init__(
        self,
        command: Sequence[str] | None,
        roots: Sequence[Path],
        *,
        errlog: TextIO | None = None,
        max_restarts: int = 3,
        restart_window: float = 60.0,
        backoff_base: float = 0.25,
        backoff_max: float = 4.0,
        start_timeout: float = 30.0,
        call_timeout_ms: int | None = None,
    ) -> None:
        self._command = list(command) if command else None
        self._roots = [Path(r) for r in roots]
        self._errlog = errlog or sys.stderr
        self._max_restarts = max_restarts
        self._restart_window = restart_window
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._start_timeout = start_timeout
        self._call_timeout_ms = call_timeout_ms
        self._tg: TaskGroup | None = None
        self._conn: _Connection | None = None
        self._lock = anyio.Lock()
        self._ever_started = False
        self._restarts: list[float] = []
        self._last_failure = 0.0
        self._last_error: str | None = None
        self._tools: list[types.Tool] = []
        self._server_info: types.Implementation | None = None
        self.starts = 0

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Self:
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        try:
            await self.ensure_started()
        except BridgeError as exc:
            log.warning("%s", exc)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        assert self._tg is not None
        if self._conn is not None:
            self._conn.stop.set()
        # The connection tasks handle their own errors; the body's exception (if any) must
        # propagate as itself, not wrapped in an ExceptionGroup by the task group.
        if exc is not None:
            self._tg.cancel_scope.cancel()
            await self._tg.__aexit__(None, None, None)
            return None
        return await self._tg.__aexit__(None, None, None)

    @property
    def command(self) -> list[str] | None:
        return self._command

    @property
    def tools(self) -> list[types.Tool]:
        """The child's tools as last listed (kept while it is down)."""
        return list(self._tools)

    @property
    def server_info(self) -> types.Implementation | None:
        return self._server_info

    @property
    def alive(self) -> bool:
        return self._conn is not None and not self._conn.dead

    @property
    def last_error(self) -> str | None:
        return self._last_error

    def _args(self) -> tuple[str, list[str]]:
        assert self._command is not None
        args = list(self._command[1:])
        for root in self._roots:
            args += ["--root", str(root)]
        if self._call_timeout_ms is not None:
            args += ["--call-timeout-ms", str(self._call_timeout_ms)]
        return self._command[0], args

    async def _serve(self, *, task_status: TaskStatus[_Connection]) -> None:
        command, args = self._args()
        # Only config.PASSTHROUGH_ENV of our environment reaches the child.
        params = StdioServerParameters(command=command, args=args, env=passthrough_env())
        started = False
        conn: _Connection | None = None
        try:
            transport = stdio_client if sys.platform == "win32" else _stdio_child
            async with transport(params, errlog=self._errlog) as (read, write):
                # Messages pass through a pump that notices the child's stdout closing, so a
                # child that dies between calls is restarted by the next call instead of
                # failing it.
                pumped_send, pumped_read = anyio.create_memory_object_stream[Any](16)
                closed = anyio.Event()

                async def pump() -> None:
                    async with pumped_send:
                        async for message in read:
                            await pumped_send.send(message)
                    closed.set()
                    if conn is not None:
                        self._mark_dead(conn, "codeloci-ast exited (its stdout closed)")

                async with anyio.create_task_group() as pumps:
                    pumps.start_soon(pump)
                    info = types.Implementation(name="codeloci", version=__version__)
                    async with ClientSession(pumped_read, write, client_info=info) as session:
                        with anyio.fail_after(self._start_timeout):
                            init = await session.initialize()
                            tools = await self._list_all(session)
                        conn = _Connection(session, tools, init.server_info)
                        if closed.is_set():
                            conn.dead = True
                        task_status.started(conn)
                        started = True
                        await conn.stop.wait()
                    pumps.cancel_scope.cancel()
        except Exception as exc:
            if not started:
                raise
            log.warning("codeloci-ast connection ended: %s", _describe(exc))
        finally:
            if conn is not None:
                conn.dead = True

    @staticmethod
    async def _list_all(session: ClientSession) -> list[types.Tool]:
        tools: list[types.Tool] = []
        cursor: str | None = None
        while True:
            params = types.PaginatedRequestParams(cursor=cursor) if cursor else None
            page = await session.list_tools(params=params)
            tools.extend(page.tools)
            cursor = page.next_cursor
            if not cursor:
                return tools

    async def ensure_started(self, *, wait: bool = True) -> _Connection:
        """The live connection, starting or restarting the child as the policy allows.

        ``wait=False`` fails at once instead of sleeping out the back-off (for tools/list)."""
        async with self._lock:
            if self._conn is not None and not self._conn.dead:
                return self._conn
            if self._command is None:
                raise RustServerUnavailable(
                    "Rust server unavailable: the codeloci-ast binary was not found (looked next "
                    "to the Python executable, on PATH and in rust-server/target). Build it with "
                    "`cargo build --release` in rust-server/, or pass --rust-server CMD."
                )
            now = time.monotonic()
            if self._ever_started or self._last_error is not None:
                self._restarts = [t for t in self._restarts if now - t < self._restart_window]
                if len(self._restarts) >= self._max_restarts:
                    retry_in = self._restart_window - (now - self._restarts[0])
                    raise RustServerUnavailable(
                        f"Rust server unavailable: codeloci-ast failed {len(self._restarts)} "
                        f"times in {self._restart_window:.0f}s (last error: {self._last_error}). "
                        f"Retrying in {retry_in:.0f}s; run `codeloci doctor` to diagnose."
                    )
                delay = min(self._backoff_max, self._backoff_base * 2 ** len(self._restarts))
                pause = self._last_failure + delay - now
                if pause > 0:
                    if not wait:
                        raise RustServerUnavailable(
                            f"Rust server unavailable: restarting after {self._last_error}"
                        )
                    await anyio.sleep(pause)
                self._restarts.append(time.monotonic())
            assert self._tg is not None, "use RustBridge as an async context manager"
            try:
                conn: _Connection = await self._tg.start(self._serve)
            except Exception as exc:
                self._last_failure = time.monotonic()
                self._last_error = _describe(exc)
                raise RustServerUnavailable(
                    f"Rust server unavailable: could not start {' '.join(self._command)}: "
                    f"{self._last_error}"
                ) from exc
            self._conn = conn
            self._ever_started = True
            self.starts += 1
            self._tools = conn.tools
            self._server_info = conn.server_info
            log.info(
                "codeloci-ast started (%s), tools: %s",
                conn.server_info.version if conn.server_info else "?",
                ", ".join(t.name for t in conn.tools),
            )
            return conn

    def _mark_dead(self, conn: _Connection, reason: str) -> None:
        if not conn.dead:
            conn.dead = True
            self._last_failure = time.monotonic()
            self._last_error = reason
            log.warning("codeloci-ast died: %s", reason)
        conn.stop.set()

    async def call_tool(
        self,
        name: str,
        arguments: dict[str, Any] | None,
        *,
        progress_callback: ProgressFnT | None = None,
    ) -> types.CallToolResult:
        """Forward one call; the child's result (including ``isError`` results) is returned.

        The result is parsed as a ``CallToolResult`` but not checked against the tool's output
        schema here: the tools are listed to our client with the child's exact schemas, so the
        client checks the same content against the same schema, and a second check here cost
        2.4 ms of a 2.3 ms ``chunk`` of one 8 kB file (``SDK call_tool`` runs jsonschema)."""
        conn = await self.ensure_started()
        try:
            return await conn.session.send_request(
                types.CallToolRequest(
                    params=types.CallToolRequestParams(name=name, arguments=arguments)
                ),
                types.CallToolResult,
                progress_callback=progress_callback,
            )
        except MCPError as exc:
            raise self._failed(conn, name, exc) from exc

    async def _call_raw(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """One call's result as the child sent it, for our own ``scan`` and ``chunk``: no
        per-reply model validation (``send_request`` validates a result against the
        negotiated protocol version, re-serialising all of it, which for a ``chunk`` reply of
        megabytes cost more than the chunking). What is read from it is checked below."""
        conn = await self.ensure_started()
        try:
            return await conn.session._dispatcher.send_raw_request(
                "tools/call", {"name": name, "arguments": arguments}, {}
            )
        except MCPError as exc:
            raise self._failed(conn, name, exc) from exc

    def _failed(self, conn: _Connection, name: str, exc: MCPError) -> Exception:
        if exc.error.code == types.CONNECTION_CLOSED or conn.dead:
            self._mark_dead(conn, f"exited during {name!r}")
            return RustServerDied(
                f"the Rust server (codeloci-ast) exited while running {name!r}; the call "
                "failed and the server will be restarted on the next call"
            )
        return exc

    async def scan(self, arguments: dict[str, Any]) -> ScanResult:
        """``scan``'s structured result; :class:`ToolCallFailed` when it answers an error."""
        return cast(ScanResult, await self._structured("scan", arguments))

    async def chunk(self, arguments: dict[str, Any]) -> ChunkResult:
        """``chunk``'s structured result; :class:`ToolCallFailed` when it answers an error."""
        return cast(ChunkResult, await self._structured("chunk", arguments))

    async def _structured(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        result = await self._call_raw(tool, arguments)
        if result.get("isError") is True:
            content = result.get("content")
            blocks = content if isinstance(content, list) else []
            text = " ".join(str(c.get("text", "")) for c in blocks if isinstance(c, dict))
            raise ToolCallFailed(f"codeloci-ast {tool} failed: {text}")
        data = result.get("structuredContent")
        if not isinstance(data, dict):
            raise ToolCallFailed(f"codeloci-ast {tool} returned no structured result")
        return data

    async def restart_for_test(self) -> None:
        """Stop the current child (tests and `doctor` use it); the next call starts another."""
        if self._conn is not None:
            self._mark_dead(self._conn, "stopped on request")
