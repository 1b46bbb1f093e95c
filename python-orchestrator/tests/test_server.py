"""End to end: the real ``codeloci serve`` over stdio, driven by the SDK's client."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from helpers import SNAPSHOTS, child_pids, raw_tools_list, serve, serve_args, text

from codeloci.models import MAX_CONTENT_CHARS

pytestmark = pytest.mark.anyio

MEMORY_TOOLS = {
    "memory_store",
    "memory_find",
    "memory_update",
    "memory_delete",
    "memory_list",
    "retrieve_preferences",
    "retrieve_project_facts",
    "retrieve_session_state",
}
WRITE_TOOLS = {"memory_store", "memory_update", "memory_delete"}
RUST_TOOLS = {"scan", "parse", "chunk"}
#: Read-only tools registered beside the memory tools (gate, indexing).
OTHER_TOOLS = {
    "gate_stats",
    "code_search",
    "index_status",
    "index_repository",
    "symbol_find",
}
OTHER_WRITE_TOOLS = {"index_repository"}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project-a"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "util.py").write_text(
        'def add(a, b):\n    """Add two numbers."""\n    return a + b\n\n\n'
        "class Greeter:\n    def hello(self, name):\n        return f'hi {name}'\n"
    )
    (root / "README.md").write_text("# Project A\n\nSome text.\n")
    return root


@pytest.fixture
def project_b(tmp_path: Path) -> Path:
    root = tmp_path / "project-b"
    root.mkdir()
    (root / "main.py").write_text("print('b')\n")
    return root


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


# ----------------------------------------------------------------------------- tools/list


def _own_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [t for t in tools if t["name"] not in RUST_TOOLS]


def test_tools_list_snapshot(project: Path, data: Path, rust_server: list[str]) -> None:
    """Our own tools' wire JSON equals the checked-in snapshot (UPDATE_SNAPSHOTS=1 rewrites)."""
    cmd = [sys.executable, *serve_args(data, project, rust_server)]
    listed = raw_tools_list(cmd, project)["tools"]
    assert {t["name"] for t in listed} == MEMORY_TOOLS | RUST_TOOLS | OTHER_TOOLS
    own = _own_tools(listed)
    path = SNAPSHOTS / "tools_list.json"
    rendered = json.dumps(own, indent=2, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.write_text(rendered)
    assert path.exists(), "snapshot missing: run with UPDATE_SNAPSHOTS=1"
    assert rendered == path.read_text(), "tools/list changed; review and UPDATE_SNAPSHOTS=1"


#: What Claude Code sends the model per tool (name + description + input schema), for all the
#: tools ``codeloci serve`` lists, at most (chars; about 4,000 tokens at 4 chars a token).
TOOLS_LIST_MAX_CHARS = 16_000


def model_facing_chars(tools: list[dict[str, Any]]) -> int:
    """Characters of the tool list as a model sees it: name, description, inputSchema JSON."""
    return sum(
        len(t["name"]) + len(t.get("description") or "") + len(json.dumps(t["inputSchema"]))
        for t in tools
    )


def test_tools_list_fits_the_model_token_budget(
    project: Path, data: Path, rust_server: list[str]
) -> None:
    """All 15 tools, from the wire, cost the model at most TOOLS_LIST_MAX_CHARS (issue 13: was
    ~28,000 chars, ~7,000 tokens)."""
    cmd = [sys.executable, *serve_args(data, project, rust_server)]
    listed = raw_tools_list(cmd, project)["tools"]
    assert {t["name"] for t in listed} == MEMORY_TOOLS | RUST_TOOLS | OTHER_TOOLS
    chars = model_facing_chars(listed)
    assert chars <= TOOLS_LIST_MAX_CHARS, f"tools/list costs {chars} chars (~{chars // 4} tokens)"


def test_proxied_schemas_identical_to_rust(
    project: Path, data: Path, rust_server: list[str]
) -> None:
    direct = raw_tools_list([*rust_server, "--root", str(project)], project)["tools"]
    ours = raw_tools_list([sys.executable, *serve_args(data, project, rust_server)], project)
    proxied = {t["name"]: t for t in ours["tools"] if t["name"] in RUST_TOOLS}
    assert set(proxied) == RUST_TOOLS
    for tool in direct:
        if tool["name"] in RUST_TOOLS:
            assert proxied[tool["name"]] == tool  # every field, inputSchema and outputSchema


def test_read_only_hides_and_refuses_writes(
    project: Path, data: Path, rust_server: list[str]
) -> None:
    for flags, env in ((["--read-only"], {}), ([], {"CODELOCI_READ_ONLY": "1"})):
        cmd = [sys.executable, *serve_args(data, project, rust_server, *flags)]
        names = {t["name"] for t in raw_tools_list(cmd, project, env)["tools"]}
        assert names == (MEMORY_TOOLS - WRITE_TOOLS) | RUST_TOOLS | (
            OTHER_TOOLS - OTHER_WRITE_TOOLS
        )


# ----------------------------------------------------------------------------- proxying


async def test_proxied_calls_and_progress(
    project: Path, data: Path, rust_server: list[str]
) -> None:
    async with serve(data, project, rust_server) as srv:
        scan = await srv.ok("scan", {"root": str(project)})
        assert {f["path"] for f in scan["files"]} == {"pkg/util.py", "README.md"}

        parsed = await srv.ok("parse", {"path": "pkg/util.py", "root": str(project)})
        assert [d["name"] for d in parsed["definitions"]] == ["add", "Greeter"]

        seen: list[float] = []

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            seen.append(progress)

        result = await srv.session.call_tool(
            "chunk",
            {"paths": ["pkg/util.py", "README.md"], "root": str(project)},
            progress_callback=on_progress,
        )
        assert not result.is_error, text(result)
        assert result.structured_content is not None
        chunks = result.structured_content["chunks"]
        util = "".join(c["content"] for c in chunks if c["path"] == "pkg/util.py")
        assert util == (project / "pkg" / "util.py").read_text()
        assert seen, "the Rust server's per-file progress did not reach the client"

        outside = await srv.err("parse", {"path": "../../etc/passwd", "root": str(project)})
        assert "passwd" in outside


async def test_rust_child_killed_mid_call_then_recovers(
    project: Path, data: Path, rust_server: list[str]
) -> None:
    async with serve(data, project, rust_server) as srv:
        await srv.ok("parse", {"content": "x = 1\n", "language": "python"})
        (pid,) = child_pids(str(project))
        os.kill(pid, signal.SIGSTOP)  # it cannot answer: the call below is surely in flight
        results: list[Any] = []

        async def call() -> None:
            results.append(await srv.call("parse", {"content": "y = 2\n", "language": "python"}))

        async with anyio.create_task_group() as tg:
            tg.start_soon(call)
            await anyio.sleep(0.5)
            assert not results, "the call finished although the child was stopped"
            os.kill(pid, signal.SIGKILL)
        (result,) = results
        assert result.is_error
        assert "exited while running 'parse'" in text(result)

        # Memory tools do not depend on the child.
        stored = await srv.ok(
            "memory_store", {"content": "still works", "level": "PROJECT_CONTEXT"}
        )
        assert stored["level"] == "PROJECT_CONTEXT"

        again = await srv.ok("parse", {"content": "def g():\n    pass\n", "language": "python"})
        assert again["definitions"][0]["name"] == "g"
        (new_pid,) = child_pids(str(project))
        assert new_pid != pid
        assert "codeloci-ast died" in srv.stderr()


async def test_rust_server_missing_memory_still_works(project: Path, data: Path) -> None:
    async with serve(data, project, ["/nonexistent/codeloci-ast"]) as srv:
        tools = await srv.session.list_tools()
        assert {t.name for t in tools.tools} == MEMORY_TOOLS | OTHER_TOOLS
        message = await srv.err("scan", {"root": str(project)})
        assert message.startswith("Rust server unavailable")
        await srv.ok("memory_store", {"content": "works without Rust", "level": "PROJECT_CONTEXT"})


# ----------------------------------------------------------------------------- memory


async def test_memory_levels_isolation_and_persistence(
    project: Path, project_b: Path, data: Path, rust_server: list[str]
) -> None:
    async with serve(data, project, rust_server, "--session-id", "s-1") as a:
        pref = await a.ok(
            "memory_store",
            {
                "content": "I always want type hints on Python functions",
                "level": "USER_PREFERENCE",
                "kind": "preference",
                "tags": ["python"],
            },
        )
        fact = await a.ok(
            "memory_store",
            {
                "content": "Project A stores its config in pkg/settings.toml",
                "level": "PROJECT_CONTEXT",
                "kind": "fact",
                "source": {"path": "pkg/util.py", "start_line": 1},
            },
        )
        sess = await a.ok(
            "memory_store",
            {
                "content": "Currently refactoring the Greeter class",
                "level": "SESSION_STATE",
                "kind": "task",
            },
        )
        assert pref["project"] is None and fact["project"] and sess["session_id"] == "s-1"

        found = await a.ok("memory_find", {"query": "type hints for python", "k": 10})
        assert {r["level"] for r in found["results"]} == {
            "USER_PREFERENCE",
            "PROJECT_CONTEXT",
            "SESSION_STATE",
        }
        assert found["results"][0]["id"] == pref["id"]
        assert found["untrusted"] is True

        # Level-bound tools never leak other levels, whatever the query.
        facts = await a.ok("retrieve_project_facts", {"query": "type hints for python"})
        assert [r["id"] for r in facts["results"]] == [fact["id"]]
        prefs = await a.ok("retrieve_preferences", {})
        assert [r["id"] for r in prefs["results"]] == [pref["id"]]
        state = await a.ok("retrieve_session_state", {"query": "refactoring"})
        assert [r["id"] for r in state["results"]] == [sess["id"]]
        sneaky = await a.err("retrieve_project_facts", {"levels": ["USER_PREFERENCE"]})
        assert "levels: Extra inputs are not permitted" in sneaky

        only_pref = await a.ok("memory_find", {"query": "config", "levels": ["USER_PREFERENCE"]})
        assert [r["id"] for r in only_pref["results"]] == [pref["id"]]
        by_path = await a.ok("memory_find", {"query": "config", "filters": {"path": "pkg/util.py"}})
        assert [r["id"] for r in by_path["results"]] == [fact["id"]]
        by_tag = await a.ok("memory_find", {"query": "anything", "filters": {"tags": ["python"]}})
        assert [r["id"] for r in by_tag["results"]] == [pref["id"]]

        # update
        upd = await a.ok("memory_update", {"id": fact["id"], "content": "Config lives in cfg.toml"})
        assert upd["updated_at"] >= fact["updated_at"]
        facts = await a.ok("retrieve_project_facts", {})
        assert facts["results"][0]["content"] == "Config lives in cfg.toml"

        # list with pagination
        page1 = await a.ok("memory_list", {"limit": 2})
        assert len(page1["results"]) == 2 and page1["next_cursor"]
        page2 = await a.ok("memory_list", {"limit": 2, "cursor": page1["next_cursor"]})
        assert len(page2["results"]) == 1 and page2["next_cursor"] is None
        listed = {r["id"] for r in page1["results"] + page2["results"]}
        assert listed == {pref["id"], fact["id"], sess["id"]}

    # Another repository sees the global preference and nothing of project A.
    async with serve(data, project_b, rust_server) as b:
        found = await b.ok("memory_find", {"query": "config toml refactoring type hints", "k": 10})
        assert [r["id"] for r in found["results"]] == [pref["id"]]
        assert (await b.ok("retrieve_project_facts", {}))["results"] == []
        state = await b.ok("retrieve_session_state", {"session_id": "s-1"})
        assert state["results"] == []
        missing = await b.err("memory_update", {"id": fact["id"], "content": "hijack"})
        assert f"no memory with id {fact['id']}" in missing
        refused = await b.err("memory_delete", {"ids": [fact["id"]], "confirm": 1})
        assert "0 memories match" in refused
        b_fact = await b.ok("memory_store", {"content": "B uses print", "level": "PROJECT_CONTEXT"})

    # Back in A (persisted across restarts): A's fact is intact, B's is invisible.
    async with serve(data, project, rust_server, "--session-id", "s-1") as a:
        facts = await a.ok("retrieve_project_facts", {})
        assert [r["id"] for r in facts["results"]] == [fact["id"]]
        assert b_fact["id"] not in {r["id"] for r in (await a.ok("memory_list", {}))["results"]}

        # delete: the confirm count must match
        wrong = await a.err(
            "memory_delete",
            {"filter": {"levels": ["PROJECT_CONTEXT", "SESSION_STATE"]}, "confirm": 5},
        )
        assert "2 memories match but confirm is 5; nothing was deleted" in wrong
        assert len((await a.ok("memory_list", {}))["results"]) == 3
        done = await a.ok(
            "memory_delete",
            {"filter": {"levels": ["PROJECT_CONTEXT", "SESSION_STATE"]}, "confirm": 2},
        )
        assert done["deleted"] == 2 and set(done["ids"]) == {fact["id"], sess["id"]}
        gone = await a.ok("memory_delete", {"ids": [pref["id"]], "confirm": 1})
        assert gone["ids"] == [pref["id"]]
        assert (await a.ok("memory_list", {}))["results"] == []


async def test_level_tools_return_facts_not_code_unless_asked(
    project: Path, data: Path, rust_server: list[str]
) -> None:
    """In an indexed repository with a stored decision, retrieve_project_facts, memory_find
    and memory_list answer with the decision; kinds ["code"] brings the code chunks."""
    async with serve(data, project, rust_server) as srv:
        decision = await srv.ok(
            "memory_store",
            {
                "content": "Greeter.hello must stay ASCII-only",
                "level": "PROJECT_CONTEXT",
                "kind": "decision",
            },
        )
        indexed = await srv.ok("index_repository", {"wait_for_embedding": True})
        assert indexed["chunks_written"] >= 2
        for args in ({}, {"query": "Greeter hello greeting"}):
            facts = await srv.ok("retrieve_project_facts", args)
            assert [r["id"] for r in facts["results"]] == [decision["id"]], args
        found = await srv.ok("memory_find", {"query": "Greeter hello greeting"})
        assert [r["id"] for r in found["results"]] == [decision["id"]]
        listed = await srv.ok("memory_list", {"levels": ["PROJECT_CONTEXT"]})
        assert [r["id"] for r in listed["results"]] == [decision["id"]]

        code = {"kinds": ["code"]}
        asked = await srv.ok("retrieve_project_facts", {"query": "greeting", "filters": code})
        assert asked["results"] and {r["kind"] for r in asked["results"]} == {"code"}
        assert any("Greeter" in r["content"] for r in asked["results"])
        pages = await srv.ok("memory_list", {"levels": ["PROJECT_CONTEXT"], "filters": code})
        assert len(pages["results"]) == indexed["chunks_written"]
        assert {r["kind"] for r in pages["results"]} == {"code"}


async def test_session_state_expires_and_is_purged(
    project: Path, data: Path, rust_server: list[str]
) -> None:
    async with serve(data, project, rust_server, "--session-ttl", "4") as srv:
        short = await srv.ok("memory_store", {"content": "short lived", "level": "SESSION_STATE"})
        long = await srv.ok(
            "memory_store",
            {"content": "long lived", "level": "SESSION_STATE", "ttl_seconds": 3600},
        )
        state = await srv.ok("retrieve_session_state", {})
        assert {r["id"] for r in state["results"]} == {short["id"], long["id"]}
        await anyio.sleep(4.5)
        state = await srv.ok("retrieve_session_state", {"query": "short lived"})
        assert [r["id"] for r in state["results"]] == [long["id"]]
        listed = await srv.ok("memory_list", {"levels": ["SESSION_STATE"]})
        assert [r["id"] for r in listed["results"]] == [long["id"]]
        gone = await srv.err("memory_update", {"id": short["id"], "content": "revive"})
        assert "no memory with id" in gone
        await srv.ok("memory_store", {"content": "trigger purge", "level": "PROJECT_CONTEXT"})

    from codeloci.embedder import MiniLMEmbedder
    from codeloci.memory import memory_collection_spec
    from codeloci.store import Match
    from codeloci.store.base import Filter
    from codeloci.store.embedded import EmbeddedStore

    store = EmbeddedStore(data, memory_collection_spec(MiniLMEmbedder(verify=False)))
    try:  # the expired unit is physically gone, not just hidden
        assert store.get([short["id"]]) == []
        assert store.count(Filter(must=(Match("context_level", "SESSION_STATE"),))) == 1
    finally:
        store.close()


async def test_read_only_refuses_writes_and_never_writes(
    project: Path, data: Path, rust_server: list[str]
) -> None:
    async with serve(data, project, rust_server) as srv:
        stored = await srv.ok("memory_store", {"content": "read me", "level": "PROJECT_CONTEXT"})

    def snapshot() -> dict[str, tuple[int, int]]:
        return {
            str(p): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(data.rglob("*"))
            if p.is_file() and p.name != "codeloci.lock"
        }

    before = snapshot()
    async with serve(data, project, rust_server, "--read-only") as srv:
        names = {t.name for t in (await srv.session.list_tools()).tools}
        assert not names & WRITE_TOOLS
        for tool, args in (
            ("memory_store", {"content": "x", "level": "PROJECT_CONTEXT"}),
            ("memory_update", {"id": stored["id"], "content": "x"}),
            ("memory_delete", {"ids": [stored["id"]], "confirm": 1}),
        ):
            message = await srv.err(tool, args)
            assert f"{tool} is refused: this server is read-only" in message
        found = await srv.ok("retrieve_project_facts", {"query": "read"})
        assert [r["id"] for r in found["results"]] == [stored["id"]]
    assert snapshot() == before


async def test_validation_errors_name_the_field(
    project: Path, data: Path, rust_server: list[str]
) -> None:
    cases: list[tuple[str, dict[str, Any], str]] = [
        (
            "memory_store",
            {"content": "x" * (MAX_CONTENT_CHARS + 1), "level": "PROJECT_CONTEXT"},
            f"content: String should have at most {MAX_CONTENT_CHARS} characters",
        ),
        ("memory_store", {"content": "x"}, "level: Field required"),
        (
            "memory_store",
            {"content": "x", "level": "PROJECT_CONTEXT", "project": "p-0"},
            "project: Extra inputs are not permitted",
        ),
        (
            "memory_store",
            {"content": "x", "level": "PROJECT_CONTEXT", "tags": ["bad tag"]},
            "tags.0: String should match pattern",
        ),
        (
            "memory_store",
            {"content": "x", "level": "USER_PREFERENCE", "ttl_seconds": 100},
            "session_id and ttl_seconds apply to level SESSION_STATE only",
        ),
        ("memory_find", {"query": "x", "k": 0}, "k: Input should be greater than or equal to 1"),
        (
            "memory_find",
            {"query": "x", "filters": {"project": "p-1"}},
            "filters.project: Extra inputs are not permitted",
        ),
        ("memory_find", {"query": "x", "levels": ["GLOBAL"]}, "levels.0: Input should be"),
        ("memory_delete", {"ids": ["not-a-uuid"]}, "confirm: Field required"),
        ("memory_delete", {"confirm": 1}, "give exactly one of ids or filter"),
        (
            "memory_update",
            {"id": "0" * 8 + "-0000-0000-0000-" + "0" * 12},
            "give at least one of content",
        ),
        ("memory_list", {"limit": 1000}, "limit: Input should be less than or equal to 100"),
    ]
    async with serve(data, project, rust_server) as srv:
        for tool, args, expected in cases:
            message = await srv.err(tool, args)
            assert message.startswith(f"invalid arguments for {tool}: "), message
            assert expected in message, (tool, message)


async def test_token_budget_trims_results(
    project: Path, data: Path, rust_server: list[str]
) -> None:
    async with serve(data, project, rust_server) as srv:
        for i in range(3):
            await srv.ok(
                "memory_store",
                {
                    "content": f"note {i} about databases " + "word " * 200,
                    "level": "PROJECT_CONTEXT",
                },
            )
        full = await srv.ok("memory_find", {"query": "databases", "token_budget": 10000})
        assert len(full["results"]) == 3 and full["omitted"] == 0
        some = await srv.ok("memory_find", {"query": "databases", "token_budget": 600})
        assert len(some["results"]) == 2 and some["omitted"] == 1
        assert some["tokens_used"] <= 600
        tiny = await srv.ok("memory_find", {"query": "databases", "token_budget": 100})
        assert len(tiny["results"]) == 1 and tiny["results"][0]["truncated"] is True
        assert len(tiny["results"][0]["content"]) == (100 - 40) * 4


async def test_server_backend_end_to_end(project: Path, data: Path, rust_server: list[str]) -> None:
    """The qdrant-client code path (QDRANT_URL=:memory: is its in-process local mode)."""
    async with serve(data, project, rust_server, env={"QDRANT_URL": ":memory:"}) as srv:
        pref = await srv.ok("memory_store", {"content": "use ruff", "level": "USER_PREFERENCE"})
        await srv.ok(
            "memory_store", {"content": "service on port 8080", "level": "PROJECT_CONTEXT"}
        )
        facts = await srv.ok("retrieve_project_facts", {"query": "ruff linter"})
        assert pref["id"] not in {r["id"] for r in facts["results"]}
        assert len(facts["results"]) == 1
        assert "Qdrant :memory:" in srv.stderr()
    assert not (data / "memory").exists()


async def test_second_process_gets_lock_error_naming_holder(
    project: Path, data: Path, rust_server: list[str]
) -> None:
    # In-process serving (--no-service): each process opens the store itself. (Through the
    # per-user service, the default, sessions share it: tests/service.)
    alone = "--no-service"
    async with serve(data, project, rust_server, alone) as first:
        await first.ok("memory_store", {"content": "held", "level": "PROJECT_CONTEXT"})
        holder = int((data / "memory" / "codeloci.lock").read_text().split()[0])
        async with serve(data, project, rust_server, alone) as second:
            message = await second.err("memory_find", {"query": "held"})
            assert f"in use by process {holder}" in message
            assert "codeloci" in message
            await second.ok("parse", {"content": "z = 3\n", "language": "python"})
    # Once the holder is gone, a new process opens it.
    async with serve(data, project, rust_server, alone) as third:
        found = await third.ok("memory_find", {"query": "held"})
        assert found["results"][0]["content"] == "held"


def test_http_transport_lists_tools(project: Path, data: Path, rust_server: list[str]) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, *serve_args(data, project, rust_server, "--http", f"127.0.0.1:{port}")],
        cwd=project,
        stderr=subprocess.DEVNULL,
    )
    try:

        async def run() -> set[str]:
            from mcp import ClientSession
            from mcp.client.streamable_http import streamable_http_client

            deadline = time.monotonic() + 60
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    await anyio.sleep(0.2)
            async with streamable_http_client(f"http://127.0.0.1:{port}/mcp") as streams:
                async with ClientSession(streams[0], streams[1]) as session:
                    await session.initialize()
                    tools = await session.list_tools()
                    result = await session.call_tool(
                        "memory_store", {"content": "over http", "level": "PROJECT_CONTEXT"}
                    )
                    assert not result.is_error
                    return {t.name for t in tools.tools}

        names = anyio.run(run)
        assert names == MEMORY_TOOLS | RUST_TOOLS | OTHER_TOOLS
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
