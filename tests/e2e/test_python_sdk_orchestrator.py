"""The official Python MCP SDK (``mcp``: stdio_client + ClientSession) against ``codeloci serve``.

Real processes over real stdio: the installed ``codeloci`` console script, which starts its own
``codeloci-ast`` child. Each test gets a fresh data dir and a small real repository (the Rust
server's multi-language fixtures plus two modules of the orchestrator itself) copied into tmp.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from conftest import FIXTURES, REPO, require
from mcp import ClientSession, StdioServerParameters, stdio_client

pytestmark = pytest.mark.timeout(600)

ORCHESTRATOR_SRC = REPO / "python-orchestrator" / "src" / "codeloci"
MEMORY_WRITE_TOOLS = {"memory_store", "memory_update", "memory_delete"}
MEMORY_READ_TOOLS = {
    "memory_find",
    "memory_list",
    "retrieve_preferences",
    "retrieve_project_facts",
    "retrieve_session_state",
}
RUST_TOOLS = {"scan", "parse", "chunk"}
INDEX_TOOLS = {"index_repository", "code_search", "index_status"}

#: (query by description, file, function it must find). The wording avoids the function's name.
CODE_QUERIES = [
    ("locate the codeloci-ast executable to launch", "config.py", "find_rust_server"),
    ("approximate how many tokens a piece of text costs", "budget.py", "estimate_tokens"),
]


# ----------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def codeloci_bin(ast_bin: str) -> str:
    return str(Path(require("codeloci")).absolute())


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A small real repository: many languages, plus real Python with docstrings."""
    root = tmp_path / "repo"
    shutil.copytree(FIXTURES, root)
    (root / "orchestrator").mkdir()
    for name in ("config.py", "models.py", "budget.py"):
        shutil.copy2(ORCHESTRATOR_SRC / name, root / "orchestrator" / name)
    for _, file, symbol in CODE_QUERIES:
        text = (root / "orchestrator" / file).read_text()
        assert f"def {symbol}(" in text, f"test data moved: {symbol} no longer in {file}"
    subprocess.run(["git", "init", "-q", str(root)], check=True, timeout=30)
    return root


class Client:
    """A connected SDK session plus the server's stderr, for what a user would see."""

    def __init__(self, session: ClientSession, errlog: Any, data: Path) -> None:
        self.session = session
        self._errlog = errlog
        self._data = data
        self.schemas: dict[str, dict[str, Any]] = {}

    def stderr(self) -> str:
        """The session's stderr and the log of the per-user service it went through."""
        self._errlog.flush()
        self._errlog.seek(0)
        logs = sorted(self._data.glob("service/*/service.log"))
        return str(self._errlog.read()) + "".join(p.read_text() for p in logs)

    async def tool_names(self) -> set[str]:
        listed = await self.session.list_tools()
        self.schemas = {t.name: t.input_schema for t in listed.tools}
        return set(self.schemas)

    def accepts(self, tool: str, field: str) -> bool:
        return field in self.schemas.get(tool, {}).get("properties", {})

    async def call(self, name: str, args: dict[str, Any] | None = None) -> Any:
        return await self.session.call_tool(name, args or {}, read_timeout_seconds=300)

    async def ok(self, name: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
        result = await self.call(name, args)
        assert not result.is_error, f"{name} failed: {text(result)}\n--- stderr\n{self.stderr()}"
        assert result.structured_content is not None, f"{name}: no structured content"
        content: dict[str, Any] = result.structured_content
        return content

    async def refused(self, name: str, args: dict[str, Any] | None = None) -> str:
        result = await self.call(name, args)
        assert result.is_error, f"{name} succeeded: {result.structured_content}"
        return text(result)


def text(result: Any) -> str:
    return "\n".join(getattr(c, "text", "") for c in result.content)


@asynccontextmanager
async def serve(codeloci: str, repo: Path, data: Path, *extra: str) -> AsyncIterator[Client]:
    """``codeloci serve --data-dir DATA`` started in the repository, as an MCP client would."""
    params = StdioServerParameters(
        command=codeloci,
        args=["serve", "--data-dir", str(data), *extra],
        env={
            "CODELOCI_LOG_LEVEL": "INFO",
            # the SDK passes on only a few safe variables: the service's idle time too
            "CODELOCI_SERVICE_IDLE": os.environ.get("CODELOCI_SERVICE_IDLE", "3"),
        },
        cwd=str(repo),
    )
    try:
        with tempfile.TemporaryFile("w+") as errlog:
            async with stdio_client(params, errlog=errlog) as (read, write):
                async with ClientSession(read, write, read_timeout_seconds=300) as session:
                    with anyio.fail_after(120):
                        await session.initialize()
                    yield Client(session, errlog, data)
    finally:
        # `codeloci service stop`: the data dir is the test's again (a user never needs it)
        subprocess.run(
            [codeloci, "service", "stop", "--data-dir", str(data)],
            capture_output=True,
            timeout=60,
            check=False,
        )


def run(fn: Callable[[], Awaitable[None]], timeout: float = 540) -> None:
    async def bounded() -> None:
        with anyio.fail_after(timeout):
            await fn()

    try:
        anyio.run(bounded)
    except BaseExceptionGroup as group:  # show the failed assertion, not the task-group wrapping
        raise _first_leaf(group) from None


def _first_leaf(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


def processes() -> list[tuple[int, int, list[str]]]:
    """(pid, ppid, argv) of every live process."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode("utf-8", "replace").split("\0")
            stat = (entry / "stat").read_text().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        if stat[0] != "Z" and argv and argv[0]:
            found.append((int(entry.name), int(stat[1]), [a for a in argv if a]))
    return found


def rust_child_of_server(data: Path) -> int:
    """The pid of the ``codeloci-ast`` child serving ``data``: the child of the per-user
    service (``codeloci service run``) the ``codeloci serve`` session went through."""
    procs = processes()
    servers = [
        pid
        for pid, _, argv in procs
        if "service" in argv
        and "run" in argv
        and str(data) in argv
        and not Path(argv[0]).name.startswith("codeloci-ast")
    ]
    assert len(servers) == 1, f"expected one codeloci service for {data}, found {servers}"
    children = [
        pid
        for pid, ppid, argv in procs
        if ppid == servers[0] and Path(argv[0]).name == "codeloci-ast"
    ]
    assert len(children) == 1, f"codeloci service {servers[0]} has codeloci-ast children {children}"
    return children[0]


def tree_snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# ----------------------------------------------------------------------------- indexing


def test_index_repository_then_code_search_finds_functions_by_description(
    codeloci_bin: str, repo: Path, tmp_path: Path
) -> None:
    """Waits for the indexing tools (issue 4) to be wired into the server; fails until then."""

    async def body() -> None:
        async with serve(codeloci_bin, repo, tmp_path / "data") as srv:
            names = await srv.tool_names()
            missing = INDEX_TOOLS - names
            assert not missing, (
                f"codeloci serve does not publish {sorted(missing)}; has {sorted(names)}"
            )

            indexed = await srv.ok("index_repository", {"path": str(repo)})
            assert indexed, "index_repository returned nothing"

            # Dense embedding may finish in the background: wait until nothing is pending.
            status: dict[str, Any] = {}
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:
                status = await srv.ok("index_status", {})
                if not _pending(status):
                    break
                await anyio.sleep(0.5)
            assert not _pending(status), f"embedding still pending after 240 s: {status}"
            files = _number(status, "files")
            chunks = _number(status, "chunks")
            assert files is None or files >= 10, status
            assert chunks is None or chunks >= 30, status

            for query, file, symbol in CODE_QUERIES:
                args: dict[str, Any] = {"query": query, "k": 5}
                if srv.accepts("code_search", "force"):
                    args["force"] = True  # the retrieval gate must not decide this test
                found = await srv.ok("code_search", args)
                results = found["results"]
                top = [(r["path"], r["symbol"]) for r in results[:3]]
                assert any(
                    path == f"orchestrator/{file}" and (sym or "").split(".")[-1] == symbol
                    for path, sym in top
                ), f"{query!r}: expected orchestrator/{file}:{symbol} in the top 3, got {top}"
                hit = next(r for r in results if (r["symbol"] or "").endswith(symbol))
                assert f"def {symbol}(" in hit["content"]
                assert hit["start_line"] <= hit["end_line"]
                assert hit.get("stale") in (None, False)

    run(body)


def test_cli_index_then_find_prints_the_function(
    codeloci_bin: str, repo: Path, tmp_path: Path
) -> None:
    """The README's quick start on a small repository: `codeloci index PATH`, `codeloci find`.

    Waits for the CLI subcommands of issue 4; fails until they exist."""
    data = tmp_path / "data"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [codeloci_bin, *args, "--data-dir", str(data)],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=300,
            stdin=subprocess.DEVNULL,
        )

    indexed = cli("index", str(repo))
    assert indexed.returncode == 0, f"codeloci index failed:\n{indexed.stdout}\n{indexed.stderr}"
    query, file, symbol = CODE_QUERIES[0]
    found = cli("find", query)
    assert found.returncode == 0, f"codeloci find failed:\n{found.stdout}\n{found.stderr}"
    top = "\n".join(found.stdout.splitlines()[:15])
    assert symbol in top and file in top, (
        f"{query!r} did not print {file}:{symbol}:\n{found.stdout}"
    )


def _pending(status: dict[str, Any]) -> int:
    for key in ("pending", "chunks_pending", "pending_chunks"):
        value = status.get(key)
        if isinstance(value, int):
            return value
    return 0


def _number(status: dict[str, Any], key: str) -> int | None:
    value = status.get(key)
    if isinstance(value, int):
        return value
    value = status.get(f"{key}_indexed", status.get(f"indexed_{key}"))
    return value if isinstance(value, int) else None


# ----------------------------------------------------------------------------- memory

PREF = "I always want type hints on every Python function signature"
FACT = "This repository keeps its MCP server settings in orchestrator/config.py"
STATE = "Currently refactoring the retry loop of the network client"


def test_store_and_find_per_level_then_read_only_server_refuses_writes(
    codeloci_bin: str, repo: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    session = ["--session-id", "e2e-session-1"]
    ids: dict[str, str] = {}

    async def writer() -> None:
        async with serve(codeloci_bin, repo, data, *session) as srv:
            names = await srv.tool_names()
            assert MEMORY_WRITE_TOOLS | MEMORY_READ_TOOLS | RUST_TOOLS <= names, names

            for level, content, kind in [
                ("USER_PREFERENCE", PREF, "preference"),
                ("PROJECT_CONTEXT", FACT, "fact"),
                ("SESSION_STATE", STATE, "task"),
            ]:
                stored = await srv.ok(
                    "memory_store",
                    {"content": content, "level": level, "kind": kind, "tags": ["e2e"]},
                )
                assert stored["level"] == level
                ids[level] = stored["id"]
            await check_levels(srv)

    async def reader() -> None:
        before = tree_snapshot(data)
        async with serve(codeloci_bin, repo, data, "--read-only", *session) as srv:
            names = await srv.tool_names()
            assert not (MEMORY_WRITE_TOOLS & names), f"read-only server lists {names}"
            assert MEMORY_READ_TOOLS | RUST_TOOLS <= names, names

            message = await srv.refused(
                "memory_store", {"content": "must not be stored", "level": "PROJECT_CONTEXT"}
            )
            assert "read-only" in message, message
            message = await srv.refused(
                "memory_delete", {"ids": [ids["PROJECT_CONTEXT"]], "confirm": 1}
            )
            assert "read-only" in message, message

            # What the first server stored is still there, per level, after a restart.
            await check_levels(srv)
            listed = await srv.ok("memory_list", {"filters": {"tags": ["e2e"]}})
            assert "must not be stored" not in {r["content"] for r in listed["results"]}
        assert tree_snapshot(data) == before, "the read-only server wrote to the data dir"

    run(writer)
    run(reader)
    assert set(ids) == {"USER_PREFERENCE", "PROJECT_CONTEXT", "SESSION_STATE"}


async def check_levels(srv: Client) -> None:
    """Each level's tool returns that level's memory and nothing from the other two levels."""
    expected = {
        "retrieve_preferences": ("USER_PREFERENCE", PREF, "type annotations style"),
        "retrieve_project_facts": ("PROJECT_CONTEXT", FACT, "where is the server configured"),
        "retrieve_session_state": ("SESSION_STATE", STATE, "what am I working on right now"),
    }
    mine = {PREF, FACT, STATE}
    for tool, (level, content, query) in expected.items():
        for args in ({}, {"query": query}):
            if args and srv.accepts(tool, "force"):
                args["force"] = True
            found = await srv.ok(tool, args)
            assert found["untrusted"] is True
            contents = [r["content"] for r in found["results"]]
            assert content in contents, f"{tool}({args}) missed its memory: {contents}"
            assert not (mine - {content}) & set(contents), (
                f"{tool} leaked another level: {contents}"
            )
            assert {r["level"] for r in found["results"] if r["content"] in mine} == {level}
            if args:
                assert contents[0] == content, f"{tool}({args}): not ranked first: {contents}"

        # memory_find limited to that level, and across all levels.
        args = {"query": query, "levels": [level]}
        if srv.accepts("memory_find", "force"):
            args["force"] = True
        found = await srv.ok("memory_find", args)
        assert {r["level"] for r in found["results"]} <= {level}
        assert content in [r["content"] for r in found["results"]]

    args = {"query": "type hints on Python functions"}
    if srv.accepts("memory_find", "force"):
        args["force"] = True
    found = await srv.ok("memory_find", args)
    assert found["results"][0]["content"] == PREF, found["results"]


# ----------------------------------------------------------------------------- Rust child


def test_rust_child_killed_then_next_proxied_call_recovers(
    codeloci_bin: str, repo: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"

    async def body() -> None:
        async with serve(codeloci_bin, repo, data) as srv:
            chunked = await srv.ok("chunk", {"paths": ["sample.py"], "root": str(repo)})
            names = {c["qualified_name"] for c in chunked["chunks"]}
            assert {"add", "Greeter"} <= names, names

            pid = rust_child_of_server(data)
            os.kill(pid, signal.SIGKILL)
            with anyio.fail_after(10):
                while Path(f"/proc/{pid}").exists() and _state(pid) != "Z":
                    await anyio.sleep(0.05)
            await anyio.sleep(0.2)

            # The child died while idle; the very next proxied call must be answered.
            first = await srv.call("chunk", {"paths": ["sample.go"], "root": str(repo)})
            # Whatever happened to that call, the one after it must work (recovery at all).
            again = await srv.ok("chunk", {"paths": ["sample.go"], "root": str(repo)})
            go_names = {c["qualified_name"] for c in again["chunks"]}
            assert "Server.Run" in go_names, go_names
            new_pid = rust_child_of_server(data)
            assert new_pid != pid
            assert not first.is_error, (
                "the first call after the idle codeloci-ast was killed failed instead of "
                f"restarting it (only the second call recovered): {text(first)}"
            )
            assert first.structured_content == again, "first call after restart: wrong result"

            # The memory side never depended on the child.
            await srv.ok("memory_store", {"content": "after the crash", "level": "PROJECT_CONTEXT"})
            scan = await srv.ok("scan", {"root": str(repo)})
            assert "sample.py" in {f["path"] for f in scan["files"]}
            log = srv.stderr()
            assert "codeloci-ast died" in log or "exited" in log, log[-2000:]

    run(body)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0]
    except (OSError, IndexError):
        return "gone"
