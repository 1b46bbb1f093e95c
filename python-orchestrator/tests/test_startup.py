"""``codeloci serve`` indexes its project root at start and keeps it current, unless
``--no-index`` / ``--no-watch`` / ``--read-only`` say otherwise; nothing slow happens before
the handshake."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from helpers import Served, serve

pytestmark = pytest.mark.anyio

CODE = '''
def parse_config(path):
    """Read the configuration file at path into a dict of key/value pairs."""
    with open(path) as fh:
        return dict(line.split("=", 1) for line in fh)
'''


def _repo(tmp_path: Path) -> Path:
    project = (tmp_path / "repo").resolve()
    (project / "pkg").mkdir(parents=True)
    (project / "pkg" / "config.py").write_text(CODE)
    return project


async def _search_until(srv: Served, query: str, found: Any, seconds: float = 60.0) -> Any:
    """Search (forced past the gate) until ``found(answer)`` holds or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while True:
        answer = await srv.ok("code_search", {"query": query, "force": True, "mode": "lexical"})
        if found(answer) or time.monotonic() > deadline:
            return answer
        await anyio.sleep(0.2)


def _paths(answer: Any) -> list[str]:
    return [r["path"] for r in answer["results"]]


async def test_serve_indexes_at_start_and_follows_edits(
    tmp_path: Path, rust_server: list[str]
) -> None:
    project = _repo(tmp_path)
    async with serve(tmp_path / "data", project, rust_server, background=True) as srv:
        first = await _search_until(srv, "parse_config", lambda a: a["results"])
        assert _paths(first) == ["pkg/config.py"], first
        (project / "pkg" / "fresh.py").write_text("def brand_new_helper():\n    return 42\n")
        later = await _search_until(srv, "brand_new_helper", lambda a: a["results"], 30.0)
        assert _paths(later)[:1] == ["pkg/fresh.py"], later
        status = await srv.ok("index_status", {})
        assert status["files"] == 2 and status["index"]["state"] in ("embedding", "ready")


@pytest.mark.parametrize("flags", [("--no-index", "--no-watch"), ("--read-only",)])
async def test_no_index_and_read_only_leave_the_repository_unindexed(
    tmp_path: Path, rust_server: list[str], flags: tuple[str, ...]
) -> None:
    project = _repo(tmp_path)
    data = tmp_path / "data"
    async with serve(data, project, rust_server, *flags, background=True) as srv:
        await anyio.sleep(2.0)  # time enough for a start-up index run, were there one
        answer = await srv.ok("code_search", {"query": "parse_config", "force": True})
        assert answer["results"] == [] and answer["index"]["state"] == "not_indexed"
        assert "not indexed yet" in answer["note"]
    if "--read-only" in flags:
        assert not data.exists(), "a read-only server wrote to its data directory"


async def test_no_watch_indexes_once(tmp_path: Path, rust_server: list[str]) -> None:
    project = _repo(tmp_path)
    async with serve(tmp_path / "data", project, rust_server, "--no-watch", background=True) as srv:
        first = await _search_until(srv, "parse_config", lambda a: a["results"])
        assert _paths(first) == ["pkg/config.py"]
        (project / "pkg" / "fresh.py").write_text("def brand_new_helper():\n    return 42\n")
        await anyio.sleep(3.0)  # a watcher would have picked it up within ~1 s
        later = await srv.ok("code_search", {"query": "brand_new_helper", "force": True})
        assert "pkg/fresh.py" not in _paths(later)


async def test_a_failure_in_the_start_up_work_never_stops_the_server(
    tmp_path: Path, rust_server: list[str], embedder: Any
) -> None:
    """The background indexing cannot open its store (an unexpected error, not a StoreError):
    it is logged, the server goes on answering, and a tool that needs the store says why."""
    from mcp import Client

    from codeloci.config import Settings
    from codeloci.server import build_server

    project = _repo(tmp_path)

    def broken_store(settings: Any, embedder: Any) -> Any:
        raise RuntimeError("the disk caught fire")

    settings = Settings(
        data_dir=tmp_path / "data",
        project_root=project,
        rust_server=rust_server,
        index_on_start=True,
        watch=True,
    )
    server = build_server(settings, embedder=embedder, store_opener=broken_store)
    async with Client(server) as client:
        await anyio.sleep(1.0)  # the start-up work has failed by now
        outline = await client.call_tool("parse", {"path": "pkg/config.py"})
        assert not outline.is_error and outline.structured_content is not None
        assert outline.structured_content["definitions"][0]["name"] == "parse_config"
        found = await client.call_tool("memory_list", {})
        assert found.is_error and "the disk caught fire" in found.content[0].text  # type: ignore[union-attr]
