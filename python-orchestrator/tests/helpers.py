"""Helpers to drive a real ``codeloci serve`` (or ``codeloci-ast``) over stdio."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp_types import CallToolResult

SNAPSHOTS = Path(__file__).parent / "snapshots"
#: What a served test passes on about the per-user service (see conftest.py).
SERVICE_ENV = {"CODELOCI_SERVICE_IDLE": os.environ.get("CODELOCI_SERVICE_IDLE", "3")}


class Served:
    """A connected client plus the server's log (the session's stderr and, when it runs
    through the per-user service, the service's log), for assertions on what a user sees."""

    def __init__(self, session: ClientSession, log: Any, data_dir: Path | None = None) -> None:
        self.session = session
        self._log = log
        self._data_dir = data_dir

    def stderr(self) -> str:
        self._log.flush()
        self._log.seek(0)
        own = str(self._log.read())
        return own + "".join(p.read_text() for p in service_logs(self._data_dir))

    async def call(self, name: str, args: dict[str, Any] | None = None) -> CallToolResult:
        return await self.session.call_tool(name, args or {})

    async def ok(self, name: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
        result = await self.call(name, args)
        assert not result.is_error, f"{name} failed: {text(result)}"
        content: dict[str, Any] | None = result.structured_content
        assert content is not None
        return content

    async def err(self, name: str, args: dict[str, Any] | None = None) -> str:
        result = await self.call(name, args)
        assert result.is_error, f"{name} unexpectedly succeeded: {result.structured_content}"
        return text(result)


def text(result: CallToolResult) -> str:
    return "\n".join(getattr(c, "text", "") for c in result.content)


def serve_args(data_dir: Path, project: Path, rust: list[str] | None, *extra: str) -> list[str]:
    args = ["-m", "codeloci.cli", "serve", "--data-dir", str(data_dir)]
    args += ["--project-root", str(project)]
    if rust is not None:
        args += ["--rust-server", shlex.join(rust)]
    return [*args, *extra]


@asynccontextmanager
async def serve(
    data_dir: Path,
    project: Path,
    rust: list[str] | None,
    *extra: str,
    env: Mapping[str, str] | None = None,
    gate: bool = False,
    background: bool = False,
    keep_service: bool = False,
) -> AsyncIterator[Served]:
    """``gate=False`` (the default) turns the retrieval gate off, so tests of memory semantics
    do not depend on which queries the gate would skip; the gate's own tests pass ``gate=True``.
    ``background=False`` (the default) serves with ``--no-index --no-watch``, so a test sees
    only the index work it asks for; the start-up indexing tests pass ``background=True``.
    ``codeloci serve`` runs as a session of the per-user service (the default) unless ``extra``
    has ``--no-service``; the service is stopped when the block ends unless ``keep_service``
    (so a test may open the store itself afterwards)."""
    if not background:
        extra = ("--no-index", "--no-watch", *extra)
    gate_env = {} if gate else {"CODELOCI_GATE_ENABLED": "0"}
    params = StdioServerParameters(
        command=sys.executable,
        args=serve_args(data_dir, project, rust, *extra),
        # the SDK hands the server only a few safe variables: the service's idle time too
        env={"CODELOCI_LOG_LEVEL": "INFO", **SERVICE_ENV, **gate_env, **(env or {})},
        cwd=str(project),
    )
    try:
        with tempfile.TemporaryFile("w+") as log:
            async with stdio_client(params, errlog=log) as (read, write):
                async with ClientSession(read, write, read_timeout_seconds=120) as session:
                    await session.initialize()
                    yield Served(session, log, data_dir)
    finally:
        if not keep_service:
            # the store is free again when the session ends, as it was in-process
            stop_services(data_dir)


def service_logs(data_dir: Path | None) -> list[Path]:
    """The logs of the per-user services of ``data_dir`` (one per store)."""
    if data_dir is None:
        return []
    return sorted(Path(data_dir).glob("service/*/service.log"))


def stop_services(data_dir: Path) -> None:
    """Stop the services of ``data_dir`` (SIGTERM) and wait until they are gone."""
    from codeloci.service.client import stop_service
    from codeloci.service.paths import ServicePaths

    for directory in Path(data_dir).glob("service/*/"):
        stop_service(ServicePaths(directory.resolve()))


#: An MCP ``initialize`` request as a raw JSON-RPC message.
INITIALIZE: dict[str, Any] = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "codeloci-tests", "version": "0"},
    },
}


class RawStdio:
    """An MCP server process spoken to by hand: JSON-RPC lines over stdio, nothing between
    the test and the wire. Its stderr is kept (``log()`` after ``close()``)."""

    def __init__(self, command: list[str], cwd: Path, env: Mapping[str, str] | None = None):
        self.command = command
        self.proc = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self.seen: list[dict[str, Any]] = []
        self._err = ""

    def send(self, message: Mapping[str, Any]) -> None:
        assert self.proc.stdin
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()

    def receive(self, request_id: Any) -> Any:
        """Messages up to the answer to ``request_id`` (all kept in ``seen``); the answer."""
        assert self.proc.stdout
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError(
                    f"{self.command[0]} closed stdout before answering {request_id}"
                )
            message = json.loads(line)
            self.seen.append(message)
            if message.get("id") == request_id and "method" not in message:
                return message

    def close(self) -> str:
        """End the session; whatever else the server wrote goes to ``seen``; its stderr."""
        assert self.proc.stdin and self.proc.stdout and self.proc.stderr
        self.proc.stdin.close()
        self.seen += [json.loads(line) for line in self.proc.stdout if line.strip()]
        self._err = self.proc.stderr.read()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return self._err


def raw_tools_list(command: list[str], cwd: Path, env: Mapping[str, str] | None = None) -> Any:
    """``tools/list`` exactly as it crosses the wire (JSON-RPC over stdio by hand)."""
    session = RawStdio(command, cwd, env)
    try:
        session.send(INITIALIZE)
        session.receive(1)
        session.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        session.send({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}})
        return session.receive(2)["result"]
    finally:
        session.close()


def child_pids(marker: str) -> list[int]:
    """Pids of running ``codeloci-ast`` processes whose command line contains ``marker``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().split(") ", 1)[1][0]
        except (OSError, IndexError):
            continue
        words = [w.decode("utf-8", "replace") for w in cmdline if w]
        if state != "Z" and words and "codeloci-ast" in words[0] and marker in words:
            pids.append(int(entry.name))
    return pids
